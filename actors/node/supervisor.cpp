#include "actors/node/supervisor.hpp"

#include "actors/logging/log.hpp"
#include "actors/node/control_server.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace skep::node {

namespace {

using supervisor_self = supervisor_actor::stateful_pointer<supervisor_state>;

supervisor_actor::behavior_type
supervisor(supervisor_self self, node_state state, int control_fd,
           std::optional<control_server_options> control) {
  auto& st = self->state;
  st.node = std::move(state);
  st.started = self->clock().now();
  st.actors.push_back("node");
  if (control) {
    auto server = control_server::start(self->system(), control_fd,
                                        supervisor_actor{self}, *control);
    if (!server) {
      log::error("node", "cannot serve the control socket: {}",
                 server.error().message);
      self->quit(caf::make_error(caf::sec::runtime_error,
                                 "cannot serve the control socket"));
    } else {
      st.control = std::move(*server);
      st.actors.push_back("control");
    }
  }
  return {
    [self](const control_request& request) -> control_reply {
      auto& st = self->state;
      auto uptime = std::chrono::duration_cast<std::chrono::nanoseconds>(
        self->clock().now() - st.started);
      return handle_control_request(st.node, request, uptime, st.actors);
    },
  };
}

} // namespace

supervisor_actor spawn_supervisor(caf::actor_system& sys, node_state state,
                                  int control_fd,
                                  const control_server_options* control) {
  std::optional<control_server_options> opts;
  if (control != nullptr)
    opts = *control;
  return sys.spawn(supervisor, std::move(state), control_fd, std::move(opts));
}

} // namespace skep::node
