// Instances, tables, globals, imports and instantiation.
//
// Hot path: instantiate() is on the spawn path (guarded by `rusm bench
// instantiate`): it allocates little, parses nothing, and creates Function
// objects only for functions that escape (exports, tables, ref.func).
#include <algorithm>
#include <new>

#include "wasm/engine.h"
#include "wasm/native.h"

namespace rusm::wasm {
namespace internal {
namespace {

Error unlinkable(const ImportDef& imp, const std::string& why) {
  return Error("incompatible import type for " + imp.module + "." + imp.name + ": " + why,
               static_cast<int>(ErrorCode::kUnlinkable));
}

// Import subtyping of limits: the provided object's current size must be at
// least the expected minimum, and its maximum no larger than the expected one.
bool limits_match(uint64_t actual_min, std::optional<uint64_t> actual_max, const Limits& expected) {
  if (actual_min < expected.min) {
    return false;
  }
  if (expected.max) {
    return actual_max && *actual_max <= *expected.max;
  }
  return true;
}

std::string limits_string(uint64_t min, std::optional<uint64_t> max) {
  return "{min " + std::to_string(min) + (max ? ", max " + std::to_string(*max) : "") + "}";
}

Value slot_value(ValType t, const Slot* cell) {
  switch (t) {
    case ValType::I32:
      return Value::i32(static_cast<uint32_t>(cell[0]));
    case ValType::I64:
      return Value::i64(cell[0]);
    case ValType::F32:
      return Value::f32_bits(static_cast<uint32_t>(cell[0]));
    case ValType::F64:
      return Value::f64_bits(cell[0]);
    case ValType::V128:
      return Value::v128_words(cell[0], cell[1]);
    case ValType::FuncRef:
      return Value::funcref(reinterpret_cast<Function*>(cell[0]));
    case ValType::ExternRef:
      return Value::externref(static_cast<uintptr_t>(cell[0]));
  }
  return Value();
}

}  // namespace

// ---------------------------------------------------------------------------
// Globals

Value GlobalImpl::get() const {
  return slot_value(type_.type, cell_);
}

Status GlobalImpl::set(const Value& v) {
  if (!type_.is_mutable) {
    return Error("global is immutable", static_cast<int>(ErrorCode::kUsage));
  }
  if (v.type() != type_.type) {
    return Error(
        std::string("global of type ") + to_string(type_.type) + " set to " + to_string(v.type()),
        static_cast<int>(ErrorCode::kUsage));
  }
  cell_[0] = v.raw();
  if (type_.type == ValType::V128) {
    cell_[1] = v.raw_hi();
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------
// Tables

TableImpl::TableImpl(const TableType& type, uint32_t limit, uint64_t init)
    : type_(type), limit_(limit), elems_(type.limits.min, init) {
  view_ = TableView{elems_.data(), elems_.size()};
}

std::optional<Value> TableImpl::get(uint32_t index) const {
  if (index >= elems_.size()) {
    return std::nullopt;
  }
  Slot s = elems_[index];
  return slot_value(type_.elem, &s);
}

Status TableImpl::set(uint32_t index, const Value& v) {
  if (index >= elems_.size()) {
    return Error("table index " + std::to_string(index) + " out of bounds",
                 static_cast<int>(ErrorCode::kUsage));
  }
  if (v.type() != type_.elem) {
    return Error(
        std::string("table of ") + to_string(type_.elem) + " set to " + to_string(v.type()),
        static_cast<int>(ErrorCode::kUsage));
  }
  elems_[index] = v.raw();
  return Status::ok();
}

std::optional<uint32_t> TableImpl::grow_raw(uint32_t delta, uint64_t init) {
  uint32_t old = size();
  if (delta > limit_ - old) {
    return std::nullopt;
  }
  try {
    elems_.resize(size_t{old} + delta, init);
  } catch (const std::bad_alloc&) {
    return std::nullopt;  // the host is out of memory: table.grow fails with -1
  }
  view_ = TableView{elems_.data(), elems_.size()};
  return old;
}

std::optional<uint32_t> TableImpl::grow(uint32_t delta, const Value& init) {
  if (init.type() != type_.elem) {
    return std::nullopt;
  }
  return grow_raw(delta, init.raw());
}

// ---------------------------------------------------------------------------
// Instances

InstanceImpl::~InstanceImpl() {
  for (Function* f : own_funcs_) {
    f->~Function();
  }
}

// One per table slot and escaping function of every instance: QuickJS's
// table alone has ~430 (docs/js.md, "Measurements").
static_assert(sizeof(Function) <= 40, "a Wasm function's record grew");

Function* InstanceImpl::new_function() {
  void* mem = arena_.allocate(sizeof(Function), alignof(Function));
  Function* f = new (mem) Function();
  own_funcs_.push_back(f);
  return f;
}

Slot InstanceImpl::eval_const(const ConstExpr& e, Slot* hi) {
  switch (e.kind) {
    case ConstExpr::Kind::kI32:
    case ConstExpr::Kind::kI64:
    case ConstExpr::Kind::kF32:
    case ConstExpr::Kind::kF64:
      return e.bits;
    case ConstExpr::Kind::kV128:
      if (hi != nullptr) {
        *hi = e.bits_hi;
      }
      return e.bits;
    case ConstExpr::Kind::kRefNull:
      return 0;
    case ConstExpr::Kind::kRefFunc:
      return reinterpret_cast<Slot>(function(static_cast<uint32_t>(e.bits)));
    case ConstExpr::Kind::kGlobalGet: {
      Slot* cell = globals_[e.bits];
      if (hi != nullptr) {
        *hi = cell[1];
      }
      return cell[0];
    }
  }
  return 0;
}

Function* InstanceImpl::function(uint32_t index) {
  if (index >= funcs_.size()) {
    return nullptr;
  }
  if (funcs_[index] == nullptr) {
    const ModuleIR& ir = md_->ir;
    Function* f = new_function();
    f->type_ = &ir.func_type(index);
    f->type_id_ = md_->type_ids[ir.func_types[index]];
    f->index_ = index;
    f->instance_ = this;
    f->code_ = &md_->funcs[index - ir.num_imported_funcs];
    funcs_[index] = f;
  }
  return funcs_[index];
}

Global* InstanceImpl::global(uint32_t index) {
  if (index >= globals_.size()) {
    return nullptr;
  }
  if (global_objects_.empty()) {
    global_objects_.resize(globals_.size());
  }
  if (global_objects_[index] == nullptr) {
    global_objects_[index] = std::make_unique<GlobalImpl>(md_->ir.globals[index], globals_[index]);
  }
  return global_objects_[index].get();
}

std::optional<Extern> InstanceImpl::find_export(std::string_view name) {
  for (const ExportInfo& e : md_->ir.exports) {
    if (e.name != name) {
      continue;
    }
    Extern x;
    x.kind = e.kind;
    x.owner = shared_from_this();
    switch (e.kind) {
      case ExternKind::Func:
        x.func = function(e.index);
        break;
      case ExternKind::Table:
        x.table = tables_[e.index];
        break;
      case ExternKind::Memory:
        x.memory = memory_;
        break;
      case ExternKind::Global:
        x.global = global(e.index);
        break;
    }
    return x;
  }
  return std::nullopt;
}

size_t InstanceImpl::memory_footprint() const {
  size_t bytes = sizeof(*this);
  if (own_memory_) {
    bytes += own_memory_->footprint();
  }
  for (const auto& t : own_tables_) {
    bytes += sizeof(TableImpl) + t->size() * sizeof(uint64_t);
  }
  bytes += global_cells_.size() * sizeof(Slot) + globals_.size() * sizeof(Slot*);
  bytes += funcs_.size() * sizeof(Function*) + own_funcs_.size() * sizeof(Function);
  bytes += elem_dropped_.size() + data_dropped_.size();
  return bytes;
}

Status InstanceImpl::initialize() {
  if (initialized_) {
    return Error("instance already initialized", static_cast<int>(ErrorCode::kUsage));
  }
  initialized_ = true;
  if (snapshot_) {
    // The snapshot's state replaces the segments (create() restored the
    // rest): its memory bytes, in the runs they were written in.
    const SnapshotData& snap = snapshot_->data();
    const uint8_t* from = snap.bytes.data();
    for (const auto& [offset, length] : snap.runs) {
      std::memcpy(memory_->base() + offset, from, length);
      memory_->mark(offset, length);
      from += length;
    }
    snapshot_.reset();
    return Status::ok();
  }
  // Active element segments, then active data segments, in order; a segment
  // out of bounds stops instantiation (earlier writes stay, as the spec says).
  for (size_t s = 0; s < md_->ir.elems.size(); ++s) {
    const ElemSegment& seg = md_->ir.elems[s];
    if (seg.mode == SegmentMode::kActive) {
      uint64_t offset = static_cast<uint32_t>(eval_const(seg.offset));
      TableImpl* t = tables_[seg.table];
      if (offset + seg.init.size() > t->size()) {
        return Error("out of bounds table access", static_cast<int>(ErrorCode::kUninstantiable));
      }
      uint64_t* data = t->data();
      for (size_t k = 0; k < seg.init.size(); ++k) {
        data[offset + k] = eval_const(seg.init[k]);
      }
    }
    if (seg.mode != SegmentMode::kPassive) {
      elem_dropped_[s] = 1;
    }
  }
  for (size_t s = 0; s < md_->ir.datas.size(); ++s) {
    const DataSegment& seg = md_->ir.datas[s];
    if (seg.mode != SegmentMode::kActive) {
      continue;
    }
    uint64_t offset = static_cast<uint32_t>(eval_const(seg.offset));
    MemoryImpl* m = memory_;
    if (m == nullptr || offset + seg.size > m->size_bytes()) {
      return Error("out of bounds memory access", static_cast<int>(ErrorCode::kUninstantiable));
    }
    if (seg.size != 0) {
      std::memcpy(m->base() + offset, md_->ir.bytes.data() + seg.bytes_offset, seg.size);
      m->mark(offset, seg.size);
    }
    data_dropped_[s] = 1;
  }
  return Status::ok();
}

bool ModuleData::cheap_to_interpret() const {
  return std::all_of(funcs.begin(), funcs.end(), [](const FuncCode& f) { return f.straight_line; });
}

const FuncCode* ModuleData::func_at(size_t pos) const {
  auto it = std::upper_bound(funcs.begin(), funcs.end(), pos,
                             [](size_t p, const FuncCode& f) { return p < f.code_begin; });
  if (it == funcs.begin()) {
    return nullptr;
  }
  --it;
  return pos < it->code_end ? &*it : nullptr;
}

}  // namespace internal

using internal::GlobalImpl;
using internal::InstanceImpl;
using internal::MemoryImpl;
using internal::ModuleData;
using internal::Slot;
using internal::SnapshotData;
using internal::TableImpl;

Result<std::shared_ptr<Table>> Table::create(const TableType& type, Value init) {
  if (!is_ref(type.elem) || init.type() != type.elem) {
    return Error("table element type and initial value disagree",
                 static_cast<int>(ErrorCode::kUsage));
  }
  uint32_t limit =
      static_cast<uint32_t>(std::min<uint64_t>(type.limits.max.value_or(UINT32_MAX), UINT32_MAX));
  if (type.limits.min > limit) {
    return Error("table minimum exceeds its maximum", static_cast<int>(ErrorCode::kUsage));
  }
  return std::shared_ptr<Table>(new TableImpl(type, limit, init.raw()));
}

Result<std::shared_ptr<Global>> Global::create(const GlobalType& type, const Value& v) {
  if (v.type() != type.type) {
    return Error("global type and value disagree", static_cast<int>(ErrorCode::kUsage));
  }
  auto g = std::make_shared<GlobalImpl>(type);
  g->cell()[0] = v.raw();
  g->cell()[1] = v.raw_hi();
  return std::shared_ptr<Global>(std::move(g));
}

Function* Instance::exported_function(std::string_view name) {
  auto e = find_export(name);
  return e && e->kind == ExternKind::Func ? e->func : nullptr;
}

Global* Instance::exported_global(std::string_view name) {
  auto e = find_export(name);
  return e && e->kind == ExternKind::Global ? e->global : nullptr;
}

void Imports::add(std::string module, std::string name, Extern e) {
  entries_.push_back(Entry{std::move(module), std::move(name), std::move(e)});
}

void Imports::add_instance(std::string module, const std::shared_ptr<Instance>& instance) {
  for (const ExportInfo& e : instance->module().exports()) {
    if (auto x = instance->find_export(e.name)) {
      add(module, e.name, std::move(*x));
    }
  }
}

const Extern* Imports::find(std::string_view module, std::string_view name) const {
  // Later additions shadow earlier ones (a re-registered name wins).
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->module == module && it->name == name) {
      return &it->ext;
    }
  }
  return nullptr;
}

Result<ResolvedImports> resolve_imports(const Module& module, const Imports& imports) {
  const ModuleIR& ir = module.data().ir;
  ResolvedImports out;
  out.externs.reserve(ir.imports.size());
  for (const ImportDef& imp : ir.imports) {
    const Extern* x = imports.find(imp.module, imp.name);
    if (x == nullptr) {
      return Error("unknown import " + imp.module + "." + imp.name,
                   static_cast<int>(ErrorCode::kUnlinkable));
    }
    if (x->kind != imp.kind) {
      return internal::unlinkable(
          imp, std::string("expected a ") + to_string(imp.kind) + ", got a " + to_string(x->kind));
    }
    switch (imp.kind) {
      case ExternKind::Func: {
        const FuncType& want = ir.types[imp.type_index];
        if (x->func == nullptr || x->func->type() != want) {
          return internal::unlinkable(
              imp, "expected " + to_string(want) + ", got " +
                       (x->func ? to_string(x->func->type()) : std::string("nothing")));
        }
        break;
      }
      case ExternKind::Table: {
        auto* t = static_cast<TableImpl*>(x->table);
        if (t == nullptr || t->type().elem != imp.table.elem ||
            !internal::limits_match(t->size(), t->type().limits.max, imp.table.limits)) {
          return internal::unlinkable(
              imp, "expected a table of " + std::string(to_string(imp.table.elem)) + " " +
                       internal::limits_string(imp.table.limits.min, imp.table.limits.max));
        }
        break;
      }
      case ExternKind::Memory: {
        Memory* m = x->memory;
        if (m == nullptr ||
            !internal::limits_match(m->pages(), m->type().limits.max, imp.memory.limits)) {
          return internal::unlinkable(
              imp, "expected a memory of " +
                       internal::limits_string(imp.memory.limits.min, imp.memory.limits.max) +
                       " pages");
        }
        break;
      }
      case ExternKind::Global: {
        Global* g = x->global;
        if (g == nullptr || g->type().type != imp.global.type ||
            g->type().is_mutable != imp.global.is_mutable) {
          return internal::unlinkable(imp, std::string("expected a global ") +
                                               (imp.global.is_mutable ? "mut " : "") +
                                               to_string(imp.global.type));
        }
        break;
      }
    }
    out.externs.push_back(*x);
  }
  return out;
}

Result<std::shared_ptr<Instance>> Instance::instantiate(std::shared_ptr<const Module> module,
                                                        const ResolvedImports& imports,
                                                        const InstanceOptions& options) {
  auto inst = create(std::move(module), imports, options);
  if (!inst) {
    return inst;
  }
  Status s = (*inst)->initialize();
  if (!s) {
    return s.error();
  }
  return inst;
}

Result<std::shared_ptr<Instance>> Instance::create(std::shared_ptr<const Module> module,
                                                   const ResolvedImports& imports,
                                                   const InstanceOptions& options) {
  const ModuleData& md = module->data();
  const ModuleIR& ir = md.ir;
  if (imports.externs.size() != ir.imports.size()) {
    return Error("expected " + std::to_string(ir.imports.size()) + " imports, got " +
                     std::to_string(imports.externs.size()),
                 static_cast<int>(ErrorCode::kUnlinkable));
  }
  // The arena's first block: the arrays below, plus the Function objects of
  // the entry function and of table elements (each array rounded up for
  // alignment).
  size_t elem_funcs = 0;
  for (const ElemSegment& e : ir.elems) {
    elem_funcs += e.init.size();
  }
  size_t arena = (ir.func_types.size() + ir.globals.size() + 2 * ir.tables.size()) * sizeof(void*) +
                 ir.global_defs.size() * 2 * sizeof(Slot) + ir.elems.size() + ir.datas.size() +
                 (1 + elem_funcs) * (sizeof(Function) + sizeof(Function*)) +
                 8 * alignof(std::max_align_t);  // padding between the arrays
  if (md.native_code() != nullptr) {
    // Compiled code's context and table views (make_vmctx), so that they do
    // not cost a second block.
    arena += sizeof(internal::VmCtx) + (ir.tables.size() + 1) * sizeof(void*) +
             2 * alignof(std::max_align_t);
  }
  auto inst = std::make_shared<InstanceImpl>(arena);
  inst->module_ = module;
  inst->md_ = &md;
  inst->user_data_ = options.user_data;
  inst->funcs_.assign(ir.func_types.size(), nullptr);
  inst->globals_.reserve(ir.globals.size());
  inst->tables_.reserve(ir.tables.size());
  inst->own_funcs_.reserve(1 + elem_funcs);

  uint32_t imported_funcs = 0;
  for (size_t i = 0; i < ir.imports.size(); ++i) {
    const ImportDef& imp = ir.imports[i];
    const Extern& x = imports.externs[i];
    if (x.kind != imp.kind) {
      return Error("import " + imp.module + "." + imp.name + " resolved to the wrong kind",
                   static_cast<int>(ErrorCode::kUnlinkable));
    }
    switch (imp.kind) {
      case ExternKind::Func:
        inst->funcs_[imported_funcs++] = x.func;
        break;
      case ExternKind::Table:
        inst->tables_.push_back(static_cast<TableImpl*>(x.table));
        break;
      case ExternKind::Memory:
        inst->memory_ = static_cast<MemoryImpl*>(x.memory);
        break;
      case ExternKind::Global:
        inst->globals_.push_back(static_cast<GlobalImpl*>(x.global)->cell());
        break;
    }
    if (x.owner) {
      inst->keep_alive_.push_back(x.owner);
    }
  }

  // Defined memory, tables and globals. The engine's limits are checked
  // first, then the embedder's limiter, before anything is allocated.
  ResourceLimiter* limiter = options.limiter;
  inst->limiter_ = limiter;
  const SnapshotData* snap = options.snapshot ? &options.snapshot->data() : nullptr;
  if (snap != nullptr && snap->module.get() != module.get()) {
    return Error("the snapshot is of another module", static_cast<int>(ErrorCode::kUsage));
  }
  if (ir.memories.size() > ir.num_imported_memories) {
    MemoryType mt = ir.memories[ir.num_imported_memories];
    if (snap != nullptr) {
      mt.limits.min = snap->memory_pages;  // the size it had grown to
    }
    uint64_t cap =
        std::min({mt.limits.max.value_or(kMaxPages), options.max_memory_pages, kMaxPages});
    uint64_t bytes = mt.limits.min * kPageSize;
    bool asked = limiter != nullptr && bytes != 0 && mt.limits.min <= cap;
    if (asked && !limiter->memory_growing(0, bytes)) {
      return Error("memory of " + std::to_string(mt.limits.min) + " pages (" +
                       std::to_string(bytes) + " bytes) refused by the resource limiter",
                   static_cast<int>(ErrorCode::kLimit));
    }
    auto m = MemoryImpl::create(mt, options.max_memory_pages);
    if (!m) {
      if (asked) {
        limiter->memory_grow_failed(0, bytes);
      }
      return m.error();
    }
    inst->own_memory_ = std::move(*m);
    inst->memory_ = inst->own_memory_.get();
  }
  for (size_t i = ir.num_imported_tables; i < ir.tables.size(); ++i) {
    TableType tt = ir.tables[i];
    if (snap != nullptr && i - ir.num_imported_tables < snap->tables.size()) {
      tt.limits.min = snap->tables[i - ir.num_imported_tables].size();
    }
    uint32_t limit = static_cast<uint32_t>(
        std::min<uint64_t>(tt.limits.max.value_or(UINT32_MAX), options.max_table_elements));
    if (tt.limits.min > limit) {
      return Error("table of " + std::to_string(tt.limits.min) + " elements exceeds the limit of " +
                       std::to_string(limit),
                   static_cast<int>(ErrorCode::kLimit));
    }
    if (limiter != nullptr && tt.limits.min != 0 && !limiter->table_growing(0, tt.limits.min)) {
      return Error("table " + std::to_string(i) + " of " + std::to_string(tt.limits.min) +
                       " elements (" + std::to_string(tt.limits.min * kTableElementBytes) +
                       " bytes) refused by the resource limiter",
                   static_cast<int>(ErrorCode::kLimit));
    }
    try {
      inst->own_tables_.push_back(std::make_unique<TableImpl>(tt, limit, 0));
    } catch (const std::bad_alloc&) {
      return Error("table " + std::to_string(i) + " of " + std::to_string(tt.limits.min) +
                       " elements: the host is out of memory",
                   static_cast<int>(ErrorCode::kLimit));
    }
    inst->tables_.push_back(inst->own_tables_.back().get());
  }
  size_t defined_globals = ir.global_defs.size();
  inst->global_cells_.assign(defined_globals * 2, 0);
  for (size_t i = 0; i < defined_globals; ++i) {
    Slot* cell = &inst->global_cells_[2 * i];
    cell[0] = inst->eval_const(ir.global_defs[i].init, &cell[1]);
    inst->globals_.push_back(cell);
  }
  inst->elem_dropped_.assign(ir.elems.size(), 0);
  inst->data_dropped_.assign(ir.datas.size(), 0);
  if (snap != nullptr) {
    if (Status s = inst->restore(*snap, options); !s) {
      return s.error();
    }
    inst->snapshot_ = options.snapshot;
  }
  if (md.native_code() != nullptr) {
    inst->vmctx_ = internal::make_vmctx(*inst);
  }

  return std::shared_ptr<Instance>(std::move(inst));
}

}  // namespace rusm::wasm
