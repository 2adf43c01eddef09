--[[
  Marks tenants' lanes as having new entries. Called after the append, never before.

  Uses markWork (work-mark.lua, prepended).

  KEYS[1] marks by their latest work sequence number    (sorted set sd:work)
  KEYS[2] the work sequence                             (sd:work:seq)
  KEYS[3] the bell: a one-entry stream idle readers block on  (sd:work:bell)
  ARGV[1..] marks: a tenant's lane (<tenant>:normal, <tenant>:priority) or a tenant id (both lanes)

  Returns the sequence number given to these marks.
]]
return markWork(KEYS[1], KEYS[2], KEYS[3], ARGV)
