-- No new step starts; a running install is still observed.
obj.spec.paused = true
return obj
