-- wrk script: POST requests with a fixed form body.
--
-- Usage: wrk ... -s bench/post.lua <url> -- <body> [<out prefix> <tokens per thread>]
--
-- With an out prefix, each thread also writes the access_token of its first
-- <tokens per thread> 200 responses to <out prefix>.<thread>, one a line,
-- then creates <out prefix>.<thread>.done (the caller stops wrk once every
-- thread is done).

local next_tid = 0

function setup(thread)
	thread:set("tid", next_tid)
	next_tid = next_tid + 1
end

function init(args)
	req = wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" }, args[1])
	if args[2] then
		prefix = args[2] .. "." .. tid
		out = assert(io.open(prefix, "w"))
		want = tonumber(args[3])
		got = 0
		-- wrk parses response bodies only when response is defined.
		response = collect
	end
end

function request()
	return req
end

function collect(status, headers, body)
	if got >= want or status ~= 200 then
		return
	end
	local token = body:match('"access_token":"([^"]+)"')
	if token then
		out:write(token, "\n")
		got = got + 1
		if got == want then
			out:close()
			assert(io.open(prefix .. ".done", "w")):close()
		end
	end
end
