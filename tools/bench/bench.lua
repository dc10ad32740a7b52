-- wrk script for tools/bench/run.py: one script, every scenario.
--
--   wrk -t2 -c16 -d30s --latency -s tools/bench/bench.lua http://127.0.0.1:PORT \
--       -- MODE CARDS_FILE KEY_FILE RUN_ID THREADS [OFFSET]
--
-- MODE is one of
--   healthz      GET /healthz (the plain Django JSON view: the framework's ceiling)
--   read         GET /api/v1/gift-cards/<id>/ round-robin over the cards
--   read_hot     GET /api/v1/gift-cards/<hot id>/ (served from the cache after one read)
--   redeem       POST /api/v1/gift-cards/<id>/redeem/, a different card each request
--   redeem_hot   POST /api/v1/gift-cards/<hot id>/redeem/, every request on one card
--   redeem_code  POST /api/v1/gift-cards/redeem/ with the code, a different card each request
--
-- CARDS_FILE holds "public_id<TAB>code" lines; its first line is the hot card.
-- Every POST carries its own Idempotency-Key (RUN_ID, thread, counter); RUN_ID is new
-- for every wrk run, so no request is a replay (replays are counted and reported).
-- Thread N of T walks cards OFFSET+N, OFFSET+N+T, ... so threads never share a card
-- (tools/bench/run.py moves OFFSET on each round, so rounds do not reuse cards either).
-- done() prints one line "BENCH_JSON {...}" that tools/bench/run.py parses.

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local mode, run_id, step, cursor, counter
local ids, codes = {}, {}
local hot_id
local base_headers

ok = 0
bad = 0
replays = 0
statuses = {}
sample = ""

local function read_lines(path)
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  local lines = {}
  for line in file:lines() do
    if line ~= "" then
      table.insert(lines, line)
    end
  end
  file:close()
  return lines
end

function init(args)
  mode = args[1]
  local cards_file, key_file = args[2], args[3]
  run_id = args[4]
  step = tonumber(args[5])
  local offset = tonumber(args[6] or "0")
  for index, line in ipairs(read_lines(cards_file)) do
    local id, code = line:match("^([^\t]+)\t([^\t]+)$")
    if index == 1 then
      hot_id = id
    else
      table.insert(ids, id)
      table.insert(codes, code)
    end
  end
  local api_key = read_lines(key_file)[1]
  cursor = tid + offset
  counter = 0
  base_headers = {
    ["Authorization"] = "Bearer " .. api_key,
    ["X-Forwarded-Proto"] = "https",
    ["Accept"] = "application/json",
  }
end

local function next_index()
  local index = ((cursor - 1) % #ids) + 1
  cursor = cursor + step
  return index
end

local function post(path, body)
  counter = counter + 1
  local headers = {}
  for name, value in pairs(base_headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = run_id .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", path, headers, body)
end

local redeem_body = '{"amount":1,"currency":"EUR","reference":"bench"}'

function request()
  if mode == "healthz" then
    return wrk.format("GET", "/healthz", base_headers)
  elseif mode == "read" then
    return wrk.format("GET", "/api/v1/gift-cards/" .. ids[next_index()] .. "/", base_headers)
  elseif mode == "read_hot" then
    return wrk.format("GET", "/api/v1/gift-cards/" .. hot_id .. "/", base_headers)
  elseif mode == "redeem" then
    return post("/api/v1/gift-cards/" .. ids[next_index()] .. "/redeem/", redeem_body)
  elseif mode == "redeem_hot" then
    return post("/api/v1/gift-cards/" .. hot_id .. "/redeem/", redeem_body)
  elseif mode == "redeem_code" then
    local code = codes[next_index()]
    return post(
      "/api/v1/gift-cards/redeem/",
      '{"code":"' .. code .. '","amount":1,"currency":"EUR","reference":"bench"}'
    )
  end
  error("unknown mode " .. tostring(mode))
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then
    replays = replays + 1
  end
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if sample == "" then
      sample = key .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

local function json_string(value)
  local escaped = string.gsub(value, '[%c"\\]', function(char)
    return string.format("\\u%04x", string.byte(char))
  end)
  return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
  local total_ok, total_bad, total_replays, merged, first_sample = 0, 0, 0, {}, ""
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    total_replays = total_replays + thread:get("replays")
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
    if first_sample == "" then
      first_sample = thread:get("sample")
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, json_string(status) .. ":" .. count)
  end
  local errors = summary.errors
  io.write(
    "BENCH_JSON {"
      .. '"requests":' .. summary.requests
      .. ',"duration_us":' .. summary.duration
      .. ',"ok":' .. total_ok
      .. ',"bad":' .. total_bad
      .. ',"replays":' .. total_replays
      .. ',"statuses":{' .. table.concat(parts, ",") .. "}"
      .. ',"errors":{"connect":' .. errors.connect
      .. ',"read":' .. errors.read
      .. ',"write":' .. errors.write
      .. ',"status":' .. errors.status
      .. ',"timeout":' .. errors.timeout .. "}"
      .. ',"latency_us":{"p50":' .. latency:percentile(50)
      .. ',"p90":' .. latency:percentile(90)
      .. ',"p99":' .. latency:percentile(99)
      .. ',"mean":' .. latency.mean
      .. ',"max":' .. latency.max .. "}"
      .. ',"sample":' .. json_string(first_sample)
      .. "}\n"
  )
end
