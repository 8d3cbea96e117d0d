-- Inner join of two parties' CSV files on a key column (arg `key`).
-- Output "joined": the key, then the left party's other columns, then the
-- right party's, prefixed "left_"/"right_" when both have a column name.
local key = cloister.args.key

local function quote(field)
  if field:find('[,"\r\n]') then return '"' .. field:gsub('"', '""') .. '"' end
  return field
end

-- Index the left side by key (a key may repeat: keep every row).
local left_rows, left_header = cloister.csv("left")
local by_key = {}
for row in left_rows do
  local k = row[key]
  if k == nil then error("left input has no column '" .. key .. "'") end
  local list = by_key[k]
  if not list then list = {} ; by_key[k] = list end
  list[#list + 1] = row
end

local right_rows, right_header = cloister.csv("right")
local in_left, in_right = {}, {}
for _, c in ipairs(left_header) do in_left[c] = true end
for _, c in ipairs(right_header) do in_right[c] = true end
local left_cols, right_cols, header = {}, {}, { key }
for _, c in ipairs(left_header) do
  if c ~= key then
    left_cols[#left_cols + 1] = c
    header[#header + 1] = in_right[c] and ("left_" .. c) or c
  end
end
for _, c in ipairs(right_header) do
  if c ~= key then
    right_cols[#right_cols + 1] = c
    header[#header + 1] = in_left[c] and ("right_" .. c) or c
  end
end

local out = cloister.open_output("joined")
local function write_row(fields)
  for i, f in ipairs(fields) do fields[i] = quote(f) end
  out:write(table.concat(fields, ","), "\n")
end
write_row(header)
local matched = 0
for r in right_rows do
  local k = r[key]
  if k == nil then error("right input has no column '" .. key .. "'") end
  for _, l in ipairs(by_key[k] or {}) do
    local fields = { k }
    for _, c in ipairs(left_cols) do fields[#fields + 1] = l[c] end
    for _, c in ipairs(right_cols) do fields[#fields + 1] = r[c] end
    write_row(fields)
    matched = matched + 1
  end
end
cloister.log("joined rows: " .. matched)
