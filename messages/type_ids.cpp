#include "messages/type_ids.hpp"

namespace skep {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<envelope>(caf::type_name<envelope>::value);
  cfg.add_message_type<control_request>(caf::type_name<control_request>::value);
  cfg.add_message_type<control_reply>(caf::type_name<control_reply>::value);
}

} // namespace skep
