// The worker's workflow bundle: every workflow the service runs.
export { GenerateReportWorkflow } from './generate-report-workflow';
