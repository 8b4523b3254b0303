// The manager: `service logs`: each task's output fetched from its node.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- service logs -----------------------------------------------------------

/// One task's output in a `logs` reply.
struct task_output {
  std::string task_id, service_name, node_id, hostname, output, error;
  uint64_t slot = 0;
  uint64_t end = 0;
};

control_reply logs_reply(const std::vector<task_output>& outputs) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initLogs(
    static_cast<unsigned>(outputs.size()));
  for (unsigned i = 0; i < outputs.size(); ++i) {
    const auto& o = outputs[i];
    list[i].setTaskId(o.task_id);
    list[i].setServiceName(o.service_name);
    list[i].setSlot(o.slot);
    list[i].setNodeId(o.node_id);
    list[i].setNodeHostname(o.hostname);
    list[i].setOutput(kj::arrayPtr(
      reinterpret_cast<const capnp::byte*>(o.output.data()), o.output.size()));
    list[i].setEndOffset(o.end);
    list[i].setError(o.error);
  }
  return control_reply::from(b);
}

/// `service logs`: asks each node that ran a task of the service (or the
/// one task) for its output, and answers once every node answered or
/// failed.
caf::result<control_reply>
collect_logs(self_ptr self, schema::control::LogsRequest::Reader r) {
  const auto& db = self->state.db();
  auto name = text_of(r.getName());
  std::vector<const store::task_object*> tasks;
  if (auto s = db.find_service(name)) {
    tasks = db.tasks_of_service((*s)->id);
  } else if (auto t = db.find_task(name)) {
    tasks.push_back(*t);
  } else {
    return error_reply(errc::not_found,
                       fmt::format("no such service or task: {}", name));
  }
  std::map<std::string, uint64_t> cursors;
  for (auto c : r.getFollow())
    cursors[text_of(c.getTaskId())] = c.getOffset();
  auto outputs = std::make_shared<std::vector<task_output>>();
  std::map<std::string, std::vector<size_t>> by_node;
  for (const auto* t : tasks) {
    if (t->node_id.empty())
      continue; // never ran
    task_output o;
    o.task_id = t->id;
    o.slot = t->slot;
    o.node_id = t->node_id;
    if (const auto* s = db.service(t->service_id))
      o.service_name = s->spec.name;
    if (const auto* n = db.node(t->node_id))
      o.hostname = n->hostname;
    by_node[t->node_id].push_back(outputs->size());
    outputs->push_back(std::move(o));
  }
  auto rp = self->make_response_promise<control_reply>();
  if (by_node.empty()) {
    rp.deliver(logs_reply(*outputs));
    return rp;
  }
  auto left = std::make_shared<size_t>(by_node.size());
  auto tail = r.getTailLines();
  bool follow = r.getFollow().size() > 0;
  for (auto& [node, indexes] : by_node) {
    auto env = make_envelope(
      kind::REQUEST, 0, {"", "controlapi"}, {node, "agent"}, [&](auto body) {
        auto q = body.initTaskLogs();
        auto ids = q.initTaskIds(static_cast<unsigned>(indexes.size()));
        q.setTailLines(follow ? -1 : tail);
        if (follow) {
          auto from = q.initFromOffsets(static_cast<unsigned>(indexes.size()));
          for (unsigned i = 0; i < indexes.size(); ++i) {
            auto it = cursors.find((*outputs)[indexes[i]].task_id);
            from.set(i, it == cursors.end() ? 0 : it->second);
          }
        }
        for (unsigned i = 0; i < indexes.size(); ++i)
          ids.set(i, (*outputs)[indexes[i]].task_id);
      });
    auto mine = indexes;
    self
      ->request(self->state.cfg.transport, caf::infinite, atom::call_v, env,
                caf::timespan{seconds{5}})
      .then([=](const envelope& reply) mutable {
        auto body = reply.root().getBody();
        if (body.which() == schema::Envelope::Body::TASK_LOGS_REPLY
            && body.getTaskLogsReply().getLogs().size() == mine.size()) {
          auto logs = body.getTaskLogsReply().getLogs();
          for (unsigned i = 0; i < mine.size(); ++i) {
            auto& o = (*outputs)[mine[i]];
            auto data = logs[i].getOutput();
            o.output.assign(reinterpret_cast<const char*>(data.begin()),
                            data.size());
            o.end = logs[i].getEndOffset();
            o.error = text_of(logs[i].getError());
          }
        } else {
          auto why = transport::reply_or_failure(reply);
          for (auto i : mine)
            (*outputs)[i].error = fmt::format(
              "node {} did not send the output: {}", (*outputs)[i].hostname,
              why ? "unexpected reply" : why.error().message);
        }
        if (--*left == 0)
          rp.deliver(logs_reply(*outputs));
      });
  }
  return rp;
}

} // namespace skep::controlapi::manager_detail
