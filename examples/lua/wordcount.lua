-- Word count over one input: lower-cased words (letters, digits, ') with
-- their counts, most frequent first, as CSV "word,count".
-- Args: min_count (int, default 1), top (int, 0 = all).
local counts = {}
for line in cloister.lines("text") do
  for word in line:lower():gmatch("[%w']+") do
    counts[word] = (counts[word] or 0) + 1
  end
end

local words = {}
for word, n in pairs(counts) do
  if n >= cloister.args.min_count then words[#words + 1] = word end
end
table.sort(words, function(a, b)
  if counts[a] ~= counts[b] then return counts[a] > counts[b] end
  return a < b
end)

local out = cloister.open_output("counts")
out:write("word,count\n")
local top = cloister.args.top
for i, word in ipairs(words) do
  if top > 0 and i > top then break end
  out:write(word, ",", counts[word], "\n")
end
cloister.log(("%d distinct words"):format(#words))
