import { lazy, Suspense } from 'react'
import { Navigate, Route, Routes } from 'react-router-dom'
import { CampaignEditPage } from './admin/CampaignEditPage'
import { CampaignListPage } from './admin/CampaignListPage'
import { ImportPage } from './admin/ImportPage'
import { ProgressPage } from './admin/ProgressPage'
import { QualityPage } from './admin/QualityPage'
import { AuthProvider, RequireAuth } from './auth'
import { Layout } from './components/Layout'
import { AssignmentPage } from './labeling/AssignmentPage'
import { HomePage } from './labeling/HomePage'
import { LoginPage } from './labeling/LoginPage'
import { NextTaskPage } from './labeling/NextTaskPage'

// The research dashboard is its own chunk: labelers never download it.
const ResearchRoutes = lazy(() => import('./research/ResearchRoutes'))

/**
 * Routes. Django serves index.html for each of these paths (labeling/spa_urls.py); keep them in sync:
 * /, /login, /label/..., /admin-ui/..., /research/...
 */
export function App() {
  return (
    <AuthProvider>
      <Layout>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/" element={<RequireAuth><HomePage /></RequireAuth>} />
          <Route path="/label" element={<RequireAuth><NextTaskPage /></RequireAuth>} />
          <Route path="/label/a/:assignmentId" element={<RequireAuth><AssignmentPage /></RequireAuth>} />
          <Route path="/admin-ui" element={<Navigate to="/admin-ui/campaigns" replace />} />
          <Route path="/admin-ui/campaigns" element={<RequireAuth admin><CampaignListPage /></RequireAuth>} />
          <Route path="/admin-ui/campaigns/new" element={<RequireAuth admin><CampaignEditPage /></RequireAuth>} />
          <Route path="/admin-ui/campaigns/:id" element={<RequireAuth admin><CampaignEditPage /></RequireAuth>} />
          <Route path="/admin-ui/campaigns/:id/import" element={<RequireAuth admin><ImportPage /></RequireAuth>} />
          <Route path="/admin-ui/campaigns/:id/progress" element={<RequireAuth admin><ProgressPage /></RequireAuth>} />
          <Route path="/admin-ui/campaigns/:id/quality" element={<RequireAuth admin><QualityPage /></RequireAuth>} />
          <Route
            path="/research/*"
            element={
              <RequireAuth researcher>
                <Suspense fallback={<p role="status">Loading…</p>}>
                  <ResearchRoutes />
                </Suspense>
              </RequireAuth>
            }
          />
          <Route path="*" element={<p role="alert">Page not found. <a href="/">Go home</a></p>} />
        </Routes>
      </Layout>
    </AuthProvider>
  )
}
