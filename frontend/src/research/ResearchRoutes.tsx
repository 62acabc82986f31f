import { Navigate, Route, Routes } from 'react-router-dom'
import { IterationDetailPage } from './IterationDetailPage'
import { IterationsPage } from './IterationsPage'
import { LeaderboardPage } from '../evaluation/LeaderboardPage'
import { JobDetailPage } from './JobDetailPage'
import { JobsPage } from './JobsPage'
import { ModelsPage } from './ModelsPage'
import { NewIterationPage } from './NewIterationPage'
import { NewJobPage } from './NewJobPage'
import { SnapshotsPage } from './SnapshotsPage'
import './research.css'

/** /research/...: a separate chunk, loaded only by researchers (App.tsx lazy-loads it behind the role check). */
export default function ResearchRoutes() {
  return (
    <Routes>
      <Route index element={<Navigate to="snapshots" replace />} />
      <Route path="snapshots" element={<SnapshotsPage />} />
      <Route path="models" element={<ModelsPage />} />
      <Route path="jobs" element={<JobsPage />} />
      <Route path="jobs/new" element={<NewJobPage />} />
      <Route path="jobs/:id" element={<JobDetailPage />} />
      <Route path="iterations" element={<IterationsPage />} />
      <Route path="iterations/new" element={<NewIterationPage />} />
      <Route path="iterations/:id" element={<IterationDetailPage />} />
      <Route path="leaderboard" element={<LeaderboardPage />} />
      <Route path="*" element={<p role="alert">Page not found. <a href="/research">Research home</a></p>} />
    </Routes>
  )
}
