-- clic (layer chat): account creation is throttled for every address.
-- prosody's own mod_register_limits exempts the addresses of its
-- allowlist, which here is every private address (the hotspot, the LAN):
-- a script on the hotspot could make accounts without end and fill the
-- card. Here: at most clic_registration_per_address accounts per address
-- and clic_registration_total in all per clic_registration_period
-- seconds; over it, the app is told to wait (policy-violation). Counts
-- are kept in memory: a restart of prosody starts them again.
local new_throttle = require "util.throttle".create;
local new_cache = require "util.cache".new;
local errors = require "util.error";

local per_address = module:get_option_number("clic_registration_per_address", 5);
local total = module:get_option_number("clic_registration_total", 60);
local period = module:get_option_number("clic_registration_period", 3600);

local by_address = new_cache(1000);
local everyone = new_throttle(total, period);

local registry = {
	address = {
		type = "wait";
		condition = "policy-violation";
		text = "Too many new accounts from this address: try again later";
	};
	everyone = {
		type = "wait";
		condition = "policy-violation";
		text = "Too many new accounts on this box: try again later";
	};
};

module:hook("user-registering", function (event)
	if event.allowed == false then
		return;
	end
	local session = event.session;
	local ip = event.ip or (session and session.ip) or "unknown";
	local t = by_address:get(ip);
	if not t then
		t = new_throttle(per_address, period);
	end
	by_address:set(ip, t);
	local over;
	if not t:poll(1) then
		over = "address";
	elseif not everyone:poll(1) then
		over = "everyone";
	end
	if over then
		module:log("warn", "account creation refused for %s: over the limit (%s)", ip, over);
		event.allowed = false;
		event.error = errors.new(over, event, registry);
		event.reason = event.error.text;
		event.error_type = event.error.type;
		event.error_condition = event.error.condition;
	end
end, -10);
