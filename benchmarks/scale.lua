-- wrk script for `python -m benchmarks.scale`: logged-in patients looking at
-- their appointments and booking. One connection per wrk thread; each thread
-- walks its share of the users in turn, each visit:
--   GET /timer, GET /min-side, GET the clinic's times (the picker),
--   and, until the user has a booking: POST /bestill/velg (a random free
--   time; 409 when someone else holds it), GET the summary, POST
--   /bestill/bekreft.
-- Arguments (after `--`): users file (cookie TAB picker path TAB picker form
-- fields), slots file (one slot id a line), number of threads.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local found = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(found, line) end
  end
  return found
end

function init(args)
  local count = tonumber(args[3])
  users, slots = {}, lines(args[2])
  for index, line in ipairs(lines(args[1])) do
    if (index - 1) % count == id then
      local cookie, picker, form = line:match("^(.-)\t(.-)\t(.-)$")
      table.insert(users, {cookie = cookie, picker = picker, form = form, booked = false})
    end
  end
  math.randomseed(id * 7919 + os.time())
  current, step, summary_url, confirm = 1, 1, nil, nil
  answered, failed, refused, booked = 0, 0, 0, 0
end

local function headers(user, form)
  local found = {["Cookie"] = user.cookie, ["Accept-Language"] = "en",
                 ["Origin"] = wrk.scheme .. "://" .. wrk.host .. ":" .. wrk.port}
  if form then found["Content-Type"] = "application/x-www-form-urlencoded" end
  return found
end

function request()
  local user = users[current]
  if step == 1 then return wrk.format("GET", "/timer", headers(user)) end
  if step == 2 then return wrk.format("GET", "/min-side", headers(user)) end
  if step == 3 then return wrk.format("GET", user.picker, headers(user)) end
  if step == 4 then
    local slot = slots[math.random(#slots)]
    return wrk.format("POST", "/bestill/velg", headers(user, true),
                      user.form .. "&slot=" .. slot)
  end
  if step == 5 then return wrk.format("GET", summary_url, headers(user)) end
  return wrk.format("POST", "/bestill/bekreft", headers(user, true), confirm)
end

local function next_user()
  current = current % #users + 1
  step = 1
end

local function confirm_form(body)
  local form = body:match('<form class="confirm%-form".-</form>')
  if not form then return nil end
  local fields = {}
  for name, value in form:gmatch('<input type="hidden" name="([^"]+)" value="([^"]*)"') do
    value = value:gsub("&amp;", "&"):gsub("([^%w%-%._~])", function(c)
      return string.format("%%%02X", string.byte(c))
    end)
    table.insert(fields, name .. "=" .. value)
  end
  return table.concat(fields, "&")
end

function response(status, headers, body)
  answered = answered + 1
  if status >= 500 then failed = failed + 1 end
  local user = users[current]
  if step < 3 then
    step = step + 1
  elseif step == 3 then
    if user.booked then next_user() else step = 4 end
  elseif step == 4 then
    local location = headers["location"] or headers["Location"]
    if status == 303 and location then
      summary_url, step = location, 5
    else
      refused = refused + 1
      next_user()
    end
  elseif step == 5 then
    confirm = status == 200 and confirm_form(body) or nil
    if confirm then step = 6 else next_user() end
  else
    if status == 303 then
      booked = booked + 1
      user.booked = true
    else
      refused = refused + 1
    end
    next_user()
  end
end

function done(summary, latency, requests)
  local totals = {answered = 0, failed = 0, refused = 0, booked = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.3f, "errors": %d, "non_2xx_3xx": %d, '
    .. '"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, '
    .. '"server_errors": %d, "refused": %d, "bookings": %d}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    totals.failed, totals.refused, totals.booked))
end
