import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { BrowserRouter } from 'react-router-dom'
import { App } from './App'
import { pruneStoredDrafts } from './drafts'
import './styles.css'

// Drafts older than 30 days belong to leases long gone; drop them so localStorage never fills up.
pruneStoredDrafts(30 * 24 * 3600 * 1000)

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
)
