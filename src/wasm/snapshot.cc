// Snapshots of instances (rusm/wasm.h, Snapshot): capture and restore.
//
// Capture walks the memory's dirty map (wasm/memory.h), so it costs what the
// instance wrote, not its size, and keeps only the non-zero 256-byte chunks
// of what it wrote: a region starts zeroed, so a zero chunk needs no copy.
// Restore is on the spawn path of processes started from a snapshot: one
// copy per run of bytes, their chunks marked as a bulk write marks them.
#include <algorithm>
#include <cstring>

#include "wasm/engine.h"

namespace rusm::wasm {

Snapshot::Snapshot(std::unique_ptr<internal::SnapshotData> data) : data_(std::move(data)) {}
Snapshot::~Snapshot() = default;

const Module& Snapshot::module() const {
  return *data_->module;
}

uint64_t Snapshot::memory_pages() const {
  return data_->memory_pages;
}

uint64_t Snapshot::memory_bytes() const {
  return data_->bytes.size();
}

size_t Snapshot::footprint() const {
  size_t tables = 0;
  for (const auto& t : data_->tables) {
    tables += t.size() * sizeof(uint32_t);
  }
  return sizeof(*this) + sizeof(internal::SnapshotData) + data_->bytes.size() +
         data_->runs.size() * sizeof(data_->runs[0]) + data_->globals.size() * sizeof(uint64_t) +
         tables + data_->elem_dropped.size() + data_->data_dropped.size();
}

namespace internal {
namespace {

Error usage(const std::string& what) {
  return Error(what, static_cast<int>(ErrorCode::kUsage));
}

bool all_zero(const uint8_t* p, uint64_t n) {
  uint64_t acc = 0;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) {
    acc |= p[i];
  }
  return acc == 0;
}

}  // namespace

std::optional<uint32_t> InstanceImpl::funcref_index(Slot word) const {
  if (word == 0) {
    return 0;
  }
  auto* f = reinterpret_cast<const Function*>(word);
  if (f->instance_ == this) {
    return f->index_ + 1;
  }
  for (uint32_t i = 0; i < md_->ir.num_imported_funcs; ++i) {
    if (funcs_[i] == f) {
      return i + 1;
    }
  }
  return std::nullopt;
}

Result<std::shared_ptr<const Snapshot>> InstanceImpl::snapshot() const {
  const ModuleIR& ir = md_->ir;
  if (!initialized_) {
    return usage("snapshot: the instance is not initialized");
  }
  if (ir.num_imported_memories != 0 || ir.num_imported_tables != 0 ||
      ir.num_imported_globals != 0) {
    return usage(
        "not supported yet: a snapshot of an instance that imports a memory, a table or a global");
  }
  auto d = std::make_unique<SnapshotData>();
  d->module = module_;

  if (own_memory_) {
    const uint8_t* base = own_memory_->base();
    d->memory_pages = own_memory_->pages();
    own_memory_->for_each_written([&](uint64_t offset, uint64_t length) {
      const uint64_t end = offset + length;
      for (uint64_t pos = offset; pos < end;) {
        uint64_t stop = std::min(end, (pos & ~(kChunkSize - 1)) + kChunkSize);
        if (!all_zero(base + pos, stop - pos)) {
          if (!d->runs.empty() && d->runs.back().first + d->runs.back().second == pos) {
            d->runs.back().second += stop - pos;
          } else {
            d->runs.emplace_back(pos, stop - pos);
          }
          d->bytes.insert(d->bytes.end(), base + pos, base + stop);
        }
        pos = stop;
      }
    });
  }

  d->globals.assign(global_cells_.begin(), global_cells_.end());
  for (size_t i = 0; i < ir.global_defs.size(); ++i) {
    ValType t = ir.global_defs[i].type.type;
    Slot& cell = d->globals[2 * i];
    if (t == ValType::FuncRef) {
      std::optional<uint32_t> index = funcref_index(cell);
      if (!index) {
        return usage(
            "not supported yet: a snapshot of a global holding another instance's function");
      }
      cell = *index;
    } else if (t == ValType::ExternRef && cell != 0) {
      return usage("not supported yet: a snapshot of a global holding an externref");
    }
  }

  for (const auto& table : own_tables_) {
    std::vector<uint32_t> elems(table->size());
    const uint64_t* words = table->data();
    for (size_t k = 0; k < elems.size(); ++k) {
      if (table->type().elem == ValType::ExternRef) {
        if (words[k] != 0) {
          return usage("not supported yet: a snapshot of a table holding an externref");
        }
        continue;
      }
      std::optional<uint32_t> index = funcref_index(words[k]);
      if (!index) {
        return usage(
            "not supported yet: a snapshot of a table holding another instance's function");
      }
      elems[k] = *index;
    }
    d->tables.push_back(std::move(elems));
  }
  d->elem_dropped.assign(elem_dropped_.begin(), elem_dropped_.end());
  d->data_dropped.assign(data_dropped_.begin(), data_dropped_.end());
  return std::make_shared<const Snapshot>(std::move(d));
}

// Called by create() once the memory, tables and globals exist at the sizes
// the snapshot asked for.
Status InstanceImpl::restore(const SnapshotData& snap, const InstanceOptions&) {
  const ModuleIR& ir = md_->ir;
  if (snap.tables.size() != own_tables_.size() || snap.globals.size() != global_cells_.size() ||
      snap.elem_dropped.size() != elem_dropped_.size() ||
      snap.data_dropped.size() != data_dropped_.size()) {
    return usage("the snapshot does not match the module");
  }
  auto resolve = [&](uint32_t index) -> Slot {
    return index == 0 ? 0 : reinterpret_cast<Slot>(function(index - 1));
  };
  for (size_t i = 0; i < ir.global_defs.size(); ++i) {
    global_cells_[2 * i] = snap.globals[2 * i];
    global_cells_[2 * i + 1] = snap.globals[2 * i + 1];
    if (ir.global_defs[i].type.type == ValType::FuncRef) {
      global_cells_[2 * i] = resolve(static_cast<uint32_t>(snap.globals[2 * i]));
    }
  }
  for (size_t t = 0; t < own_tables_.size(); ++t) {
    TableImpl& table = *own_tables_[t];
    const std::vector<uint32_t>& elems = snap.tables[t];
    if (table.size() != elems.size()) {
      return usage("the snapshot does not match the module");
    }
    uint64_t* words = table.data();
    for (size_t k = 0; k < elems.size(); ++k) {
      words[k] = resolve(elems[k]);
    }
  }
  std::copy(snap.elem_dropped.begin(), snap.elem_dropped.end(), elem_dropped_.begin());
  std::copy(snap.data_dropped.begin(), snap.data_dropped.end(), data_dropped_.begin());
  return Status::ok();
}

}  // namespace internal
}  // namespace rusm::wasm
