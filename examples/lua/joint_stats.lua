-- Joint aggregate of two parties' tables on a key column (arg `key`): how
-- many distinct keys each side has, how many both have, and over the common
-- keys the sum of one integer column from each side (`left_value`,
-- `right_value`; a key's repeated rows add up). Nothing row-level leaves:
-- with fewer than `min_common` common keys the function fails instead, so a
-- tiny overlap never reveals one customer's values.
-- Output "summary": CSV `metric,value`.
local args = cloister.args

-- key → summed value, and the number of distinct keys.
local function load(slot, column)
  local rows = cloister.csv(slot)
  local sums, keys = {}, 0
  for row in rows do
    local k = row[args.key]
    if k == nil then error(slot .. " has no column '" .. args.key .. "'") end
    local cell = row[column]
    if cell == nil then error(slot .. " has no column '" .. column .. "'") end
    local v = math.tointeger(tonumber(cell))
    if v == nil then error(slot .. ": column '" .. column .. "' must hold integers") end
    if sums[k] == nil then
      sums[k] = 0
      keys = keys + 1
    end
    sums[k] = sums[k] + v
  end
  return sums, keys
end

local left, left_keys = load("left", args.left_value)
local right, right_keys = load("right", args.right_value)
local common, left_sum, right_sum = 0, 0, 0
for k, v in pairs(left) do
  local r = right[k]
  if r ~= nil then
    common = common + 1
    left_sum = left_sum + v
    right_sum = right_sum + r
  end
end
if common < args.min_common then
  error("only " .. common .. " common keys, fewer than min_common=" .. args.min_common)
end

cloister.open_output("summary")
  :write("metric,value\n")
  :write("left_keys,", left_keys, "\n")
  :write("right_keys,", right_keys, "\n")
  :write("common_keys,", common, "\n")
  :write("left_sum_common,", left_sum, "\n")
  :write("right_sum_common,", right_sum, "\n")
cloister.log("common keys: " .. common)
