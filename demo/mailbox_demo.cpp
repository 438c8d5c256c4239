// mailbox_demo: runs the engine (the Mailbox API with its actors) on the embedded default store
// (RocksDB in ./mailbox-data, or --data-dir DIR) with a small demo agent, and prints what
// happens: a foreground run streaming its events, background runs queued on several threads,
// an interrupt, and a human-in-the-loop approval. The main job of README until mailboxd exists.
#include "runtime/mailbox.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

namespace {

using namespace mbx;
using namespace std::chrono_literals;

// The demo agent: "approve ..." asks a human first; anything else is echoed word by word.
class DemoAgent final : public Executor {
public:
  ExecutionResult execute(RunContext& ctx) override {
    ExecutionResult r;
    const auto& act = ctx.activation();
    if (!act.control.seeded_decisions.empty()) {
      Message result;
      result.role = Role::tool;
      result.tool_call_id = act.control.seeded_decisions.front().tool_call_id;
      result.content = "approved by a human";
      std::ignore = ctx.commit_messages({result});  // a fenced commit means we lost the run; the end write says so
      return say(ctx, "the approved action ran");
    }
    const std::string text = act.messages.empty() ? std::string() : act.messages.front().content;
    if (text.rfind("approve", 0) == 0) {
      Message call;
      call.role = Role::assistant;
      call.tool_calls.push_back(ToolCall{"call-1", "deploy", OpaqueJson{"{}"}});
      std::ignore = ctx.commit_messages({call});
      AgentEvent suspended;
      suspended.type = AgentEventType::tool_call_done;
      suspended.tool_call_id = "call-1";
      suspended.outcome = ToolCallOutcome::suspended;
      std::ignore = ctx.emit(suspended);
      RunWaitingState waiting;
      waiting.tickets.push_back(WaitingTicket{"t-1", "call-1", "deploy", OpaqueJson{"{}"}, "resume", std::nullopt, 0});
      waiting.ticket_ids = {"t-1"};
      r.status = ExecutionStatus::waiting;
      r.waiting = waiting;
      return r;
    }
    return say(ctx, text);
  }

private:
  static ExecutionResult say(RunContext& ctx, const std::string& text) {
    ExecutionResult r;
    std::string word;
    for (char c : text + " ") {
      if (c != ' ') {
        word += c;
        continue;
      }
      if (word.empty()) continue;
      AgentEvent delta;
      delta.type = AgentEventType::text_delta;
      delta.text = word + " ";
      std::ignore = ctx.emit(delta);
      word.clear();
      if (ctx.wait_for_cancel(40ms)) return r;  // the engine ends a cancelled run as cancelled
    }
    Message answer;
    answer.role = Role::assistant;
    answer.content = text;
    std::ignore = ctx.commit_messages({answer});
    r.response = text;
    return r;
  }
};

RunActivation user_says(const std::string& thread, const std::string& text) {
  RunActivation r;
  r.intent.thread_id = thread;
  Message m;
  m.role = Role::user;
  m.content = text;
  r.messages.push_back(std::move(m));
  return r;
}

void print_stream(EventStream& events) {
  while (!events.finished()) {
    auto e = events.next(10s);
    if (!e || !*e) break;
    const AgentEvent& ev = **e;
    std::cout << "  #" << ev.seq << " " << to_string(ev.type);
    if (!ev.text.empty()) std::cout << " \"" << ev.text << "\"";
    if (ev.termination) std::cout << " (" << to_string(ev.termination->kind) << ")";
    std::cout << "\n";
  }
}

int fail(const char* step, const Error& e) {
  std::cerr << "mailbox_demo: " << step << " failed: " << describe(e) << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "./mailbox-data";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::cout << "usage: mailbox_demo [--data-dir DIR]\n"
                   "  Runs the mailbox engine on a RocksDB store in DIR (default ./mailbox-data) with a demo agent.\n";
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  auto store = RocksdbStore::open(RocksdbOptions{dir});
  if (!store) return fail("opening the store", store.error());
  DemoAgent agent;
  auto mailbox = Mailbox::start(**store, agent, MailboxConfig{});
  if (!mailbox) return fail("starting the mailbox", mailbox.error());
  auto& mb = **mailbox;

  std::cout << "== foreground submit on thread demo-1 (streams at once)\n";
  auto fg = mb.submit(user_says("demo-1", "hello from the mailbox"));
  if (!fg) return fail("submit", fg.error());
  print_stream(fg->events);

  std::cout << "== background submits: 3 threads x 2 messages, run in order per thread\n";
  std::vector<SubmitResult> queued;
  for (const std::string t : {"demo-a", "demo-b", "demo-c"})
    for (const std::string text : {"first", "second"}) {
      auto r = mb.submit_background(user_says(t, text + " on " + t));
      if (!r) return fail("submit_background", r.error());
      std::cout << "  " << t << " run " << r->run_id << ": " << to_string(r->status) << "\n";
      queued.push_back(*r);
    }

  std::cout << "== interrupt: a long run on demo-2, then a foreground submit on the same thread\n";
  auto slow = mb.submit(user_says("demo-2", "one two three four five six seven eight nine ten"));
  if (!slow) return fail("submit", slow.error());
  std::this_thread::sleep_for(150ms);
  auto newer = mb.submit(user_says("demo-2", "never mind, new question"));
  if (!newer) return fail("submit", newer.error());
  std::cout << " old run:\n";
  print_stream(slow->events);
  std::cout << " new run:\n";
  print_stream(newer->events);

  std::cout << "== human in the loop on demo-3\n";
  auto hitl = mb.submit(user_says("demo-3", "approve the deploy"));
  if (!hitl) return fail("submit", hitl.error());
  print_stream(hitl->events);
  auto decided = mb.decide(hitl->result.run_id, "call-1", ToolCallResume{});
  if (!decided) return fail("decide", decided.error());
  std::cout << " resumed run " << decided->run_id << " (same id: " << (decided->run_id == hitl->result.run_id)
            << ")\n";
  auto resumed = mb.attach(decided->run_id, 0);
  if (!resumed) return fail("attach", resumed.error());
  print_stream(*resumed);

  for (const auto& q : queued) {
    auto events = mb.attach(q.run_id, 0);
    if (events) std::ignore = events->collect(10s);  // wait for the run to end
  }
  auto history = mb.messages("demo-2", 1, 0);
  if (!history) return fail("messages", history.error());
  std::cout << "== committed history of demo-2\n";
  for (const auto& r : *history)
    std::cout << "  " << r.seq << " " << to_string(r.message.role) << ": "
              << (r.message.content.empty() ? "(tool call)" : r.message.content) << "\n";
  auto stats = mb.stats();
  std::cout << "== done: " << stats.active_runs << " active runs, " << stats.workers << " workers; data in " << dir
            << "\n";
  mb.stop();
  return 0;
}
