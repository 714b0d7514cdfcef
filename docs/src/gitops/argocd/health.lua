-- Argo CD health check for baton.dev AppliancePair and AtlasCluster.
-- It reads the kstatus conditions the operator writes (Ready, Reconciling, Stalled) and the
-- domain ones (Paused, AwaitingApproval), only once status describes the current generation.
local hs = {}
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the resource"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local function is_true(kind)
  return conditions[kind] ~= nil and conditions[kind].status == "True"
end
local function message(kind)
  local c = conditions[kind]
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return nil
end
local phase = obj.status.phase or "Pending"
if is_true("Stalled") then
  -- A person must act: the message says what (a failed base install, a missing Secret...).
  hs.status = "Degraded"
  hs.message = message("Stalled") or ("Stalled: " .. (conditions["Stalled"].reason or phase))
  return hs
end
if is_true("Ready") then
  hs.status = "Healthy"
  hs.message = message("Ready") or "Up to date"
  return hs
end
if is_true("AwaitingApproval") then
  -- The message names the approval to give: <upgrade id>/<gate>.
  hs.status = "Suspended"
  hs.message = message("AwaitingApproval")
  return hs
end
if is_true("Paused") then
  hs.status = "Suspended"
  hs.message = "spec.paused is true: " .. (message("Reconciling") or "no new step starts")
  return hs
end
hs.status = "Progressing"
hs.message = message("Reconciling") or message("AwaitingMaintenanceWindow") or ("Phase " .. phase)
return hs
