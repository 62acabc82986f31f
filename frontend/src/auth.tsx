import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react'
import { Navigate, useLocation } from 'react-router-dom'
import { api, ApiError, isAdmin, isResearcher, type Me } from './api'

interface AuthState {
  me: Me | null
  loading: boolean
  /** Set when /me failed for a reason other than "not logged in". */
  error: string | null
  refresh: () => Promise<Me | null>
  logout: () => Promise<void>
}

const AuthContext = createContext<AuthState | null>(null)

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null)
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<string | null>(null)

  const refresh = useCallback(async () => {
    try {
      const m = await api.me()
      setMe(m)
      setError(null)
      return m
    } catch (e) {
      setMe(null)
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setError(null)
      else setError(e instanceof Error ? e.message : String(e))
      return null
    } finally {
      setLoading(false)
    }
  }, [])

  const logout = useCallback(async () => {
    try {
      await api.logout()
    } finally {
      setMe(null)
    }
  }, [])

  useEffect(() => {
    void refresh()
  }, [refresh])

  return <AuthContext.Provider value={{ me, loading, error, refresh, logout }}>{children}</AuthContext.Provider>
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext)
  if (!ctx) throw new Error('useAuth outside AuthProvider')
  return ctx
}

/** Renders children for a logged-in user (optionally a campaign admin or a researcher); otherwise redirects to /login. */
export function RequireAuth({ children, admin = false, researcher = false }: { children: ReactNode; admin?: boolean; researcher?: boolean }) {
  const { me, loading, error } = useAuth()
  const location = useLocation()
  if (loading) return <p className="muted" role="status">Loading…</p>
  if (error && !me) return <p className="error" role="alert">Could not load your account: {error}</p>
  if (!me) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />
  if (admin && !isAdmin(me)) {
    return (
      <p className="error" role="alert">
        This page is for campaign admins. Ask an administrator for the <code>campaign_admin</code> role.
      </p>
    )
  }
  if (researcher && !isResearcher(me)) {
    return (
      <div className="error-box narrow" role="alert">
        <p>
          <strong>403 — not allowed.</strong> The research dashboard (snapshots, models, training jobs) is for researchers.
        </p>
        <p>
          Ask an administrator for the <code>researcher</code> role. <a href="/">Back home</a>
        </p>
      </div>
    )
  }
  return <>{children}</>
}
