import { type ReactNode, useState } from 'react'
import { Link, NavLink, useNavigate } from 'react-router-dom'
import { isAdmin, isResearcher } from '../api'
import { useAuth } from '../auth'
import { isTypingTarget, useWindowKeydown } from '../hotkeys'
import { ShortcutsHelp } from './ShortcutsHelp'

export function Layout({ children }: { children: ReactNode }) {
  const { me, logout } = useAuth()
  const navigate = useNavigate()
  const [help, setHelp] = useState(false)

  useWindowKeydown((e) => {
    if (e.key === '?' && !e.ctrlKey && !e.metaKey && !e.altKey && !isTypingTarget(e.target)) {
      e.preventDefault()
      setHelp((h) => !h)
    }
  })

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Prefloop
        </Link>
        {me && (
          <nav aria-label="Main">
            <NavLink to="/" end>
              Labeling
            </NavLink>
            {isAdmin(me) && <NavLink to="/admin-ui/campaigns">Campaigns</NavLink>}
            {isResearcher(me) && <NavLink to="/research">Research</NavLink>}
          </nav>
        )}
        <div className="topbar-right">
          <button type="button" className="link-button" onClick={() => setHelp(true)} aria-keyshortcuts="?">
            Shortcuts <kbd>?</kbd>
          </button>
          {me && (
            <>
              <span className="muted" aria-label="Signed in as">
                {me.username}
              </span>
              <button
                type="button"
                className="link-button"
                onClick={async () => {
                  await logout()
                  navigate('/login')
                }}
              >
                Log out
              </button>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <ShortcutsHelp open={help} onClose={() => setHelp(false)} />
    </div>
  )
}
