// The authorization evaluation's simulator step (tests/support/authz.py): reads a JSON array of
// requests on stdin, evaluates each with @cloud-copilot/iam-simulate, writes a JSON array of
// results on stdout. A request: {principal, action, resource, context, identityPolicies,
// resourcePolicy}; a result: {decision, allowedBy, deniedBy, nearMisses, errors}.
import { anonymousPrincipal, runSimulation } from '@cloud-copilot/iam-simulate'

const ACCOUNT = '000000000000'

function nearMisses(analysis) {
  // Statements that name the action and the resource but whose conditions failed: the missing
  // part of the statement that would have allowed the call.
  const unmatched = [
    ...(analysis?.identityAnalysis?.unmatchedStatements ?? []),
    ...(analysis?.resourceAnalysis?.unmatchedStatements ?? []),
  ]
  return unmatched
    .filter((s) => s.actionMatch && s.resourceMatch)
    .map((s) => ({
      policy: s.policyId,
      sid: s.explain?.identifier ?? null,
      failed: (s.explain?.conditions ?? [])
        .filter((c) => !c.matches)
        .map((c) => ({ operator: c.operator, key: c.conditionKeyValue, got: c.resolvedConditionKeyValue ?? null })),
    }))
}

function sids(statements) {
  return (statements ?? []).map((s) => `${s.policyId ?? 'resource policy'}/${s.explain?.identifier ?? '?'}`)
}

async function evaluate(req) {
  const anonymous = req.principal === '*'
  const simulation = {
    request: {
      principal: anonymous ? anonymousPrincipal : req.principal,
      action: req.action,
      resource: { resource: req.resource, accountId: ACCOUNT },
      contextVariables: req.context ?? {},
    },
    identityPolicies: anonymous ? [] : req.identityPolicies ?? [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: req.resourcePolicy ?? undefined,
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { decision: 'Error', errors: response.errors }
  }
  const analysis = response.resultType === 'single' ? response.result.analysis : response.results[0]?.analysis
  return {
    decision: response.overallResult,
    allowedBy: [
      ...sids(analysis?.identityAnalysis?.allowStatements),
      ...sids(analysis?.resourceAnalysis?.allowStatements),
    ],
    deniedBy: [
      ...sids(analysis?.identityAnalysis?.denyStatements),
      ...sids(analysis?.resourceAnalysis?.denyStatements),
    ],
    nearMisses: nearMisses(analysis),
  }
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const req of requests) results.push(await evaluate(req))
process.stdout.write(JSON.stringify(results))
