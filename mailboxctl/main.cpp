// mailboxctl: the command line over a mailboxd's HTTP API (docs/http-api.md), plus `fsck`,
// which runs the store's own cross-check on a stopped node's data folder. Readable output by
// default, --json for scripts; exit 0 on success, 1 with a one-line reason on error, 2 on
// bad usage.
#include "mailboxctl/http_client.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using mbx::client::HttpClient;

constexpr const char* kUsage =
    "usage: mailboxctl [--url URL] [--json] COMMAND [ARGS]\n"
    "  send THREAD TEXT [--agent ID] [--mode MODE] [--no-stream]   submit (foreground) and stream the run\n"
    "  queue THREAD TEXT [--agent ID]        background submit\n"
    "  interrupt THREAD                      supersede queued work, cancel the active run\n"
    "  cancel THREAD | cancel --run RUN_ID   cancel the thread's active run, or one run\n"
    "  decide RUN_ID TOOL_CALL_ID [--deny] [--result JSON]   answer a run waiting for approval\n"
    "  runs THREAD                           the thread's runs\n"
    "  run RUN_ID                            one run\n"
    "  messages THREAD [--from SEQ] [--limit N]   committed history\n"
    "  dispatches THREAD                     the thread's dispatches, newest first\n"
    "  watch RUN_ID [--after SEQ]            follow a run's events (live or replayed)\n"
    "  stats                                 queue depth, active runs, outcomes\n"
    "  fsck DATA_DIR                         verify a stopped node's store\n"
    "URL defaults to $MAILBOX_URL, else http://127.0.0.1:8787.\n";

struct Cli {
  std::string url;
  bool json_output = false;
  std::vector<std::string> args;            // positional
  std::map<std::string, std::string> opts;  // --name value (flags without a value map to "1")
};

int usage_error(const std::string& why) {
  std::cerr << "mailboxctl: " << why << "\n" << kUsage;
  return 2;
}

int fail(const std::string& why) {
  std::cerr << "mailboxctl: " << why << "\n";
  return 1;
}

json::value parse_or_null(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

std::string str(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  auto* p = v.as_object().if_contains(key);
  if (p == nullptr || p->is_null()) return "";
  if (p->is_string()) return std::string(p->as_string());
  return json::serialize(*p);
}

// An HTTP error as one line: "404 not_found: run 'x' not found".
int http_fail(const mbx::client::HttpResult& r) {
  auto v = parse_or_null(r.body);
  if (v.is_object() && v.as_object().contains("error"))
    return fail(std::to_string(r.status) + " " + str(v.at("error"), "code") + ": " + str(v.at("error"), "message"));
  return fail("HTTP " + std::to_string(r.status) + ": " + r.body);
}

std::string messages_body(const std::string& text, const Cli& cli, bool stream) {
  json::object o{{"messages", json::array{json::object{{"role", "user"}, {"content", text}}}}};
  if (cli.opts.contains("agent")) o["agent_id"] = cli.opts.at("agent");
  if (cli.opts.contains("mode")) o["mode"] = cli.opts.at("mode");
  if (stream) o["stream"] = true;
  return json::serialize(o);
}

// Prints one event readably (deltas inline) or as a JSON line.
void print_event(const mbx::client::SseEvent& e, bool as_json, bool& mid_line) {
  if (as_json) {
    std::cout << e.data << "\n" << std::flush;
    return;
  }
  auto v = parse_or_null(e.data);
  if (e.event == "text_delta" || e.event == "reasoning_delta") {
    std::cout << str(v, "text") << std::flush;
    mid_line = true;
    return;
  }
  if (mid_line) std::cout << "\n";
  mid_line = false;
  if (e.event == "run_start") {
    std::cout << "[run " << str(v, "run_id") << " started]\n";
  } else if (e.event == "run_finish") {
    const std::string kind = v.is_object() && v.as_object().contains("termination") ? str(v.at("termination"), "kind") : "";
    std::cout << "[run finished: " << kind << "]\n";
  } else if (e.event == "tool_call_done") {
    std::cout << "[tool " << str(v, "tool_call_id") << ": " << str(v, "outcome") << "]\n";
  } else if (e.event == "error") {
    std::cout << "[error " << str(v, "code") << ": " << str(v, "text") << "]\n";
  } else {
    std::cout << "[" << e.event << (str(v, "tool_call_id").empty() ? "" : " " + str(v, "tool_call_id")) << "]\n";
  }
  std::cout << std::flush;
}

int stream_command(HttpClient& http, const std::string& method, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers, const Cli& cli) {
  bool mid_line = false;
  auto r = http.stream(method, target, body, headers, [&](const mbx::client::SseEvent& e) {
    print_event(e, cli.json_output, mid_line);
    return true;
  });
  if (mid_line) std::cout << "\n";
  if (!r) return fail(r.error().message);
  if (r->status != 200) return http_fail(*r);
  return 0;
}

int fsck(const std::string& dir, const Cli& cli) {
  mbx::RocksdbOptions options;
  options.path = dir;
  options.create_if_missing = false;
  auto store = mbx::RocksdbStore::open(options);
  if (!store) return fail("cannot open '" + dir + "' (is a mailboxd running on it?): " + store.error().message);
  auto problems = (*store)->verify();
  if (!problems) return fail("verify failed: " + problems.error().message);
  if (cli.json_output) {
    json::array a;
    for (const auto& p : *problems) a.emplace_back(p);
    std::cout << json::serialize(json::object{{"clean", problems->empty()}, {"problems", a}}) << "\n";
  } else if (problems->empty()) {
    std::cout << "fsck: " << dir << " is consistent\n";
  } else {
    for (const auto& p : *problems) std::cout << "fsck: " << p << "\n";
  }
  return problems->empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  const char* env_url = std::getenv("MAILBOX_URL");
  cli.url = env_url != nullptr && *env_url != '\0' ? env_url : "http://127.0.0.1:8787";
  static const std::map<std::string, bool> kTakesValue = {{"url", true},   {"agent", true}, {"mode", true},
                                                          {"run", true},   {"result", true}, {"from", true},
                                                          {"limit", true}, {"after", true}, {"json", false},
                                                          {"deny", false}, {"no-stream", false}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a.rfind("--", 0) == 0) {
      const std::string name = a.substr(2);
      auto it = kTakesValue.find(name);
      if (it == kTakesValue.end()) return usage_error("unknown option " + a);
      if (it->second) {
        if (i + 1 >= argc) return usage_error(a + " needs a value");
        cli.opts[name] = argv[++i];
      } else {
        cli.opts[name] = "1";
      }
    } else {
      cli.args.push_back(std::move(a));
    }
  }
  if (cli.opts.contains("url")) cli.url = cli.opts["url"];
  cli.json_output = cli.opts.contains("json");
  if (cli.args.empty()) return usage_error("missing command");
  const std::string cmd = cli.args[0];
  auto need = [&](std::size_t n) { return cli.args.size() >= n + 1; };
  if (cmd == "fsck") return need(1) ? fsck(cli.args[1], cli) : usage_error("fsck needs DATA_DIR");

  auto base = mbx::client::parse_base_url(cli.url);
  if (!base) return usage_error(base.error().message);
  HttpClient http(base->first, base->second);
  auto print_json = [&](const std::string& body) {
    std::cout << body << "\n";
    return 0;
  };
  auto call = [&](const std::string& method, const std::string& target, const std::string& body,
                  const std::function<int(const json::value&)>& readable) -> int {
    auto r = http.request(method, target, body);
    if (!r) return fail(r.error().message);
    if (r->status >= 400) return http_fail(*r);
    if (cli.json_output) return print_json(r->body);
    return readable(parse_or_null(r->body));
  };
  auto print_submit = [](const json::value& v) {
    std::cout << "run " << str(v, "run_id") << " (dispatch " << str(v, "dispatch_id") << "): " << str(v, "status")
              << "\n";
    return 0;
  };

  if (cmd == "send") {
    if (!need(2)) return usage_error("send needs THREAD TEXT");
    const std::string target = "/v1/threads/" + cli.args[1] + "/messages";
    if (cli.opts.contains("no-stream")) return call("POST", target, messages_body(cli.args[2], cli, false), print_submit);
    return stream_command(http, "POST", target, messages_body(cli.args[2], cli, true), {}, cli);
  }
  if (cmd == "queue") {
    if (!need(2)) return usage_error("queue needs THREAD TEXT");
    return call("POST", "/v1/threads/" + cli.args[1] + "/mailbox", messages_body(cli.args[2], cli, false), print_submit);
  }
  if (cmd == "interrupt") {
    if (!need(1)) return usage_error("interrupt needs THREAD");
    return call("POST", "/v1/threads/" + cli.args[1] + "/interrupt", "", [](const json::value& v) {
      std::cout << "superseded " << str(v, "superseded") << " queued; cancelled run: "
                << (str(v, "cancelled_run_id").empty() ? "none" : str(v, "cancelled_run_id")) << "\n";
      return 0;
    });
  }
  if (cmd == "cancel") {
    std::string target;
    if (cli.opts.contains("run")) {
      target = "/v1/runs/" + cli.opts["run"] + "/cancel";
    } else if (need(1)) {
      target = "/v1/threads/" + cli.args[1] + "/cancel";
    } else {
      return usage_error("cancel needs THREAD or --run RUN_ID");
    }
    return call("POST", target, "", [](const json::value& v) {
      std::cout << "cancelled run " << str(v, "cancelled_run_id") << "\n";
      return 0;
    });
  }
  if (cmd == "decide") {
    if (!need(2)) return usage_error("decide needs RUN_ID TOOL_CALL_ID");
    json::object body{{"tool_call_id", cli.args[2]}, {"action", cli.opts.contains("deny") ? "cancel" : "resume"}};
    if (cli.opts.contains("result")) {
      auto result = parse_or_null(cli.opts["result"]);
      if (result.is_null() && cli.opts["result"] != "null") return usage_error("--result must be JSON");
      body["result"] = result;
    }
    return call("POST", "/v1/runs/" + cli.args[1] + "/decision", json::serialize(body), print_submit);
  }
  if (cmd == "runs") {
    if (!need(1)) return usage_error("runs needs THREAD");
    return call("GET", "/v1/threads/" + cli.args[1] + "/runs?limit=1000", "", [](const json::value& v) {
      for (const auto& r : v.at("runs").as_array())
        std::cout << str(r, "run_id") << "  " << str(r, "status") << "  agent " << str(r, "agent_id") << "\n";
      std::cout << str(v, "total") << " runs\n";
      return 0;
    });
  }
  if (cmd == "run") {
    if (!need(1)) return usage_error("run needs RUN_ID");
    return call("GET", "/v1/runs/" + cli.args[1], "", [](const json::value& v) {
      std::cout << "run " << str(v, "run_id") << " on thread " << str(v, "thread_id") << ": " << str(v, "status");
      if (!str(v, "termination_reason").empty()) std::cout << " (" << str(v.at("termination_reason"), "kind") << ")";
      std::cout << "\n";
      if (!str(v, "final_output").empty()) std::cout << "output: " << str(v, "final_output") << "\n";
      if (!str(v, "waiting").empty())
        for (const auto& t : v.at("waiting").at("tickets").as_array())
          std::cout << "waiting on tool call " << str(t, "tool_call_id") << " (" << str(t, "tool_name") << ")\n";
      return 0;
    });
  }
  if (cmd == "messages") {
    if (!need(1)) return usage_error("messages needs THREAD");
    const std::string from = cli.opts.contains("from") ? cli.opts["from"] : "1";
    const std::string limit = cli.opts.contains("limit") ? cli.opts["limit"] : "1000";
    return call("GET", "/v1/threads/" + cli.args[1] + "/messages?from_seq=" + from + "&limit=" + limit, "",
                [](const json::value& v) {
                  for (const auto& r : v.at("messages").as_array()) {
                    const auto& m = r.at("message");
                    std::string text = str(m, "content");
                    if (text.empty() && !m.at("tool_calls").as_array().empty())
                      text = "(tool call " + str(m.at("tool_calls").at(0), "name") + ")";
                    std::cout << str(r, "seq") << "  " << str(m, "role") << ": " << text << "\n";
                  }
                  return 0;
                });
  }
  if (cmd == "dispatches") {
    if (!need(1)) return usage_error("dispatches needs THREAD");
    return call("GET", "/v1/threads/" + cli.args[1] + "/mailbox?limit=1000", "", [](const json::value& v) {
      for (const auto& d : v.at("dispatches").as_array())
        std::cout << str(d, "dispatch_id") << "  " << str(d, "status") << "  run " << str(d, "run_id") << "  attempts "
                  << str(d, "attempt_count") << "\n";
      std::cout << str(v, "total") << " dispatches\n";
      return 0;
    });
  }
  if (cmd == "watch") {
    if (!need(1)) return usage_error("watch needs RUN_ID");
    std::map<std::string, std::string> headers;
    if (cli.opts.contains("after")) headers["Last-Event-ID"] = cli.opts["after"];
    return stream_command(http, "GET", "/v1/runs/" + cli.args[1] + "/events", "", headers, cli);
  }
  if (cmd == "stats") {
    auto r = http.request("GET", "/metrics");
    if (!r) return fail(r.error().message);
    if (r->status != 200) return http_fail(*r);
    json::object out;
    std::istringstream lines(r->body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#') continue;
      for (const char* prefix : {"mailbox_dispatch_depth", "mailbox_active_runs", "mailbox_runs_finished_total",
                                 "mailbox_leases_lost_total", "mailbox_expired_claims_reclaimed_total"})
        if (line.rfind(prefix, 0) == 0) {
          const auto space = line.rfind(' ');
          const double v = std::stod(line.substr(space + 1));
          if (v == static_cast<double>(static_cast<std::int64_t>(v)))
            out[line.substr(0, space)] = static_cast<std::int64_t>(v);
          else
            out[line.substr(0, space)] = v;
        }
    }
    if (cli.json_output) return print_json(json::serialize(out));
    for (const auto& [k, v] : out) std::cout << std::string(k) << " " << json::serialize(v) << "\n";
    return 0;
  }
  return usage_error("unknown command '" + cmd + "'");
}
