-- clic (layer chat): the box's public group chat room, made when prosody
-- starts if it does not exist yet: public (listed by the service),
-- persistent, open to everyone, owned by no visitor. Loaded on the MUC
-- component; options clic_room (the room's JID) and clic_room_name.
local muc = module:depends("muc");
local room_jid = module:get_option_string("clic_room");
local room_name = module:get_option_string("clic_room_name", room_jid);

local function ensure_room()
	if not room_jid then
		module:log("error", "clic_room is not set");
		return;
	end
	if muc.get_room_from_jid(room_jid) then
		return;
	end
	local room, err = muc.create_room(room_jid);
	if not room then
		module:log("error", "could not make the room %s: %s", room_jid, tostring(err));
		return;
	end
	room:set_name(room_name);
	room:set_public(true);
	room:set_persistent(true);
	room:set_members_only(false);
	room:set_whois("moderators");
	room:save(true);
	module:log("info", "made the public room %s", room_jid);
end

module:hook_global("server-started", ensure_room);
