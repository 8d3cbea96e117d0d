-- Private set intersection on normalized e-mail addresses: each party's
-- "set.<party>" (one address per line) is trimmed and lower-cased here, then
-- the built-in `psi` intersects; each party gets only "result.<party>", its
-- own addresses that every party holds.
local sets = {}
for _, name in ipairs(cloister.inputs()) do
  local lines = {}
  for line in cloister.lines(name) do
    local email = line:match("^%s*(.-)%s*$"):lower()
    if email ~= "" then lines[#lines + 1] = email end
  end
  sets[name] = table.concat(lines, "\n") .. "\n"
end

local results = cloister.builtin("psi", { output = "intersection" }, sets)
for name, bytes in pairs(results) do
  cloister.output(name, bytes)
end
