import { useEffect, useState } from 'react'
import { api, type Campaign } from '../api'

/** Load one campaign by id (null id = a new campaign). */
export function useCampaign(id: number | null) {
  const [campaign, setCampaign] = useState<Campaign | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    if (id === null) return
    let live = true
    api
      .campaign(id)
      .then((c) => live && setCampaign(c))
      .catch((e: Error) => live && setError(e.message))
    return () => {
      live = false
    }
  }, [id])
  return { campaign, setCampaign, error }
}
