-- Adds `<upgrade id>/<gate>` for what the upgrade waits for to the baton.dev/approve
-- annotation (approvals there are separated by commas), as
-- `kubectl annotate ... baton.dev/approve=<upgrade id>/<gate>` would.
local function pending_approval(obj)
  if obj.status == nil or obj.status.upgrade == nil then
    return nil
  end
  local upgrade = obj.status.upgrade
  if upgrade.plan == nil or upgrade.id == nil then
    return nil
  end
  for _, step in ipairs(upgrade.plan) do
    if step.state == "Failed" then
      -- Each retry is approved on its own: <id>-r<n>/Retry, n = retries so far + 1.
      return upgrade.id .. "-r" .. tostring((upgrade.retries or 0) + 1) .. "/Retry"
    end
    if step.state ~= "Succeeded" and step.state ~= "Skipped" then
      if step.action == "Approval" and step.package ~= nil then
        return upgrade.id .. "/" .. step.package
      end
      local swing = obj.spec.trafficSwing
      if step.action == "SwingTraffic" and step.state == "Running" and swing ~= nil and swing.provider == "Manual" then
        -- A confirmation holds for its round only: <id>-round<n> from round 2 on.
        local id = upgrade.id
        if step.round ~= nil and step.round > 1 then
          id = id .. "-round" .. tostring(step.round)
        end
        return id .. "/TrafficSwing"
      end
      return nil
    end
  end
  return nil
end
local token = pending_approval(obj)
if token == nil then
  return obj
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local current = obj.metadata.annotations["baton.dev/approve"]
if current == nil or current == "" then
  obj.metadata.annotations["baton.dev/approve"] = token
else
  for existing in string.gmatch(current, "[^,]+") do
    if existing == token then
      return obj
    end
  end
  obj.metadata.annotations["baton.dev/approve"] = current .. "," .. token
end
return obj
