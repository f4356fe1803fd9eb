-- wrk script: GET requests carrying bearer tokens read from a file, one a
-- line. Each thread takes its own share of the lines (line i goes to thread
-- i mod threads) and sends them in turn, so that with N tokens a token comes
-- back only after about N requests. A file with fewer lines than threads
-- is sent whole by every thread (one line: one token).
--
-- Usage: wrk -t<threads> ... -s bench/bearer.lua <url> -- <token file> <threads>

local next_tid = 0

function setup(thread)
	thread:set("tid", next_tid)
	next_tid = next_tid + 1
end

function init(args)
	local threads = tonumber(args[2])
	local lines = {}
	for line in io.lines(args[1]) do
		lines[#lines + 1] = line
	end
	if #lines == 0 then
		error("no token in " .. args[1])
	end
	requests = {}
	for i, line in ipairs(lines) do
		if #lines < threads or (i - 1) % threads == tid then
			requests[#requests + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line })
		end
	end
	n = 0
end

function request()
	n = n % #requests + 1
	return requests[n]
end
