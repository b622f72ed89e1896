// cluster_throughput: frames/s of 32-byte SEND frames from one mesh to another
// over loopback TLS 1.3, each mesh on its own io_context thread (two nodes in
// one process). The sender keeps its connection's buffer full (it stops on
// kWouldBlock and resumes on drain); the receiver counts frames.
//
//   cluster_throughput [seconds=3]
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "cluster/mesh.h"
#include "cluster_test_util.h"

using namespace rusm::cluster;
using namespace rusm::cluster::test;

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  TestPki pki("bench-ca");
  Events ev;
  std::atomic<uint64_t> received{0};

  IoThread rx_loop;
  MeshOptions ro;
  ro.name = "rx";
  ro.node_id = 1;
  ro.tls = pki.node("rx");
  Mesh::Callbacks rcb;
  rcb.on_frame = [&](const std::string&, Frame&&) {
    received.fetch_add(1, std::memory_order_relaxed);
  };
  auto rx = Mesh::create(rx_loop.io(), ro, rcb);
  if (!rx) {
    std::fprintf(stderr, "%s\n", rx.message().c_str());
    return 1;
  }

  IoThread tx_loop;
  std::shared_ptr<Mesh> tx;
  std::atomic<bool> done{false};
  uint64_t sent = 0;
  std::function<void()> pump;
  Send frame{1, 2, 0, 0, std::string(32, 'x')};
  pump = [&] {
    for (int i = 0; i < 4096 && !done; ++i) {
      frame.tag = sent;
      auto r = tx->send("rx", frame);
      if (r == Mesh::SendResult::kWouldBlock) {
        return;  // on_drain pumps again
      }
      if (r != Mesh::SendResult::kOk) {
        std::fprintf(stderr, "send failed\n");
        return;
      }
      ++sent;
    }
    if (!done) {
      boost::asio::post(tx_loop.io(), pump);
    }
  };
  MeshOptions to;
  to.name = "tx";
  to.node_id = 2;
  to.tls = pki.node("tx");
  to.seeds = {(*rx)->advertised()};
  Mesh::Callbacks tcb;
  tcb.on_node_up = [&](const PeerInfo& p) { ev.add("up " + p.name); };
  tcb.on_drain = [&](const std::string&) { pump(); };
  auto created = Mesh::create(tx_loop.io(), to, tcb);
  if (!created) {
    std::fprintf(stderr, "%s\n", created.message().c_str());
    return 1;
  }
  tx = *created;
  if (ev.wait_for("up rx").empty()) {
    std::fprintf(stderr, "the meshes did not connect\n");
    return 1;
  }
  tx_loop.run([&] {
    pump();
    return 0;
  });
  std::this_thread::sleep_for(500ms);  // warm-up
  uint64_t r0 = received.load();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  uint64_t r1 = received.load();
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  done = true;
  double fps = static_cast<double>(r1 - r0) / dt;
  std::printf(
      "cluster_throughput: %.0f frames/s of 32-byte SEND (%.1f MB/s on the wire, "
      "%.1f s, 2 meshes over loopback TLS 1.3)\n",
      fps, fps * encoded_size(Frame(frame)) / 1e6, dt);
  tx_loop.run([&] {
    tx->stop();
    tx.reset();
    return 0;
  });
  rx_loop.run([&] {
    (*rx)->stop();
    rx = rusm::Error("stopped");
    return 0;
  });
  return 0;
}
