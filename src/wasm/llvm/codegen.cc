// WebAssembly to LLVM IR (see codegen.h).
//
// The generator mirrors the validator's operand stack with SSA values (a
// null entry stands for the validator's "bottom" in unreachable code, where
// nothing is emitted), and its control stack with basic blocks: a block or
// if ends in a block whose phis receive the results from every branch and
// the fall-through; a loop's label is its header, whose phis receive the
// parameters. Locals live in allocas that LLVM promotes to registers.
#include "wasm/llvm/codegen.h"
#include "wasm/llvm/float_ops.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <map>
#include <unordered_map>

#include "wasm/llvm/simd.h"
#include "wasm/native.h"
#include "wasm/validator_impl.h"

namespace rusm::wasm::llvm_tier {
namespace {

using llvm::BasicBlock;
using llvm::IRBuilder;
using llvm::PHINode;
using llvm::Type;
using llvm::Value;

// The longest stretch of code charged without a check (as the interpreter's
// kMaxFuelRun): bounds how far past its budget a run can go.
constexpr uint64_t kMaxUncheckedFuel = kMaxFuelOvershoot / 2;

// Helpers (native.cc) by name, with their signatures.
enum Helper {
  kTrap,
  kTrapElement,
  kOutOfFuel,
  kCallImport,
  kCallRef,
  kMemoryGrow,
  kMemoryFill,
  kMemoryCopy,
  kMemoryInit,
  kDataDrop,
  kTableGet,
  kTableSet,
  kTableSize,
  kTableGrow,
  kTableFill,
  kTableCopy,
  kTableInit,
  kElemDrop,
  kRefFunc,
  kHelperCount
};

// Module-wide state: types, helper declarations, TBAA tags, trampolines.
struct ModuleGen {
  const internal::ModuleData& md;
  const ModuleIR& ir;
  llvm::LLVMContext& cx;
  llvm::Module& mod;
  std::string stack_register;
  const internal::NativeLayout& layout = internal::native_layout();

  Type* i8;
  Type* i32;
  Type* i64;
  Type* f32;
  Type* f64;
  Type* v128;
  Type* ptr;
  Type* vd;

  llvm::FunctionCallee helpers[kHelperCount];
  std::vector<llvm::Function*> funcs;          // defined functions
  std::map<uint32_t, llvm::Function*> tramps;  // by type index (first of equal types)

  // Alias classes: Wasm memory, the dirty map, engine fields that only
  // compiled code's helpers write (memory base and size, table views, the
  // instance's arrays), globals, the fuel counter.
  llvm::MDNode* tbaa_memory;
  llvm::MDNode* tbaa_dirty;
  llvm::MDNode* tbaa_engine;
  llvm::MDNode* tbaa_dirty_count;  // Memory::dirty_chunks_, apart so its update spares base/size
  llvm::MDNode* tbaa_global;
  llvm::MDNode* tbaa_run;
  llvm::MDNode* invariant;  // !invariant.load: never changes while code runs

  ModuleGen(const internal::ModuleData& md_, llvm::LLVMContext& cx_, llvm::Module& mod_)
      : md(md_), ir(md_.ir), cx(cx_), mod(mod_) {
    i8 = Type::getInt8Ty(cx);
    i32 = Type::getInt32Ty(cx);
    i64 = Type::getInt64Ty(cx);
    f32 = Type::getFloatTy(cx);
    f64 = Type::getDoubleTy(cx);
    v128 = llvm::FixedVectorType::get(i64, 2);
    ptr = llvm::PointerType::getUnqual(cx);
    vd = Type::getVoidTy(cx);
    llvm::MDBuilder mb(cx);
    llvm::MDNode* root = mb.createTBAARoot("rusm");
    auto tag = [&](const char* name) {
      llvm::MDNode* t = mb.createTBAAScalarTypeNode(name, root);
      return mb.createTBAAStructTagNode(t, t, 0);
    };
    tbaa_memory = tag("wasm memory");
    tbaa_dirty = tag("dirty map");
    tbaa_engine = tag("engine");
    tbaa_dirty_count = tag("dirty count");
    tbaa_global = tag("wasm global");
    tbaa_run = tag("run");
    invariant = llvm::MDNode::get(cx, {});
    declare_helpers();
  }

  Type* type_of(ValType t) const {
    switch (t) {
      case ValType::I32:
        return i32;
      case ValType::I64:
      case ValType::FuncRef:
      case ValType::ExternRef:
        return i64;
      case ValType::F32:
        return f32;
      case ValType::F64:
        return f64;
      case ValType::V128:
        return v128;
    }
    return i64;
  }

  Type* result_type(const FuncType& ft) const {
    if (ft.results.empty()) {
      return vd;
    }
    if (ft.results.size() == 1) {
      return type_of(ft.results[0]);
    }
    std::vector<Type*> members;
    for (ValType t : ft.results) {
      members.push_back(type_of(t));
    }
    return llvm::StructType::get(cx, members);
  }

  llvm::FunctionType* function_type(const FuncType& ft) const {
    std::vector<Type*> params{ptr};
    for (ValType t : ft.params) {
      params.push_back(type_of(t));
    }
    return llvm::FunctionType::get(result_type(ft), params, false);
  }

  void declare(Helper h, const char* name, Type* ret, std::vector<Type*> params,
               bool noreturn = false) {
    auto* fty = llvm::FunctionType::get(ret, params, false);
    llvm::FunctionCallee c = mod.getOrInsertFunction(name, fty);
    auto* f = llvm::cast<llvm::Function>(c.getCallee());
    if (noreturn) {
      f->setDoesNotReturn();
      f->addFnAttr(llvm::Attribute::Cold);
    }
    f->addFnAttr(llvm::Attribute::NoUnwind);
    helpers[h] = c;
  }

  void declare_helpers() {
    declare(kTrap, "rusm_rt_trap", vd, {ptr, i32, i32}, true);
    declare(kTrapElement, "rusm_rt_trap_element", vd, {ptr, i32, i32, i32}, true);
    declare(kOutOfFuel, "rusm_rt_out_of_fuel", i64, {ptr, i64});
    // It touches nothing compiled code can see (native.cc, rt_out_of_fuel),
    // so memory bases, sizes and loads stay in registers across it.
    llvm::cast<llvm::Function>(helpers[kOutOfFuel].getCallee())
        ->setMemoryEffects(llvm::MemoryEffects::inaccessibleMemOnly());
    declare(kCallImport, "rusm_rt_call_import", vd, {ptr, i32, ptr, i32});
    declare(kCallRef, "rusm_rt_call_ref", vd, {ptr, ptr, ptr, i32});
    declare(kMemoryGrow, "rusm_rt_memory_grow", i32, {ptr, i32});
    declare(kMemoryFill, "rusm_rt_memory_fill", vd, {ptr, i32, i32, i32, i32});
    declare(kMemoryCopy, "rusm_rt_memory_copy", vd, {ptr, i32, i32, i32, i32});
    declare(kMemoryInit, "rusm_rt_memory_init", vd, {ptr, i32, i32, i32, i32, i32});
    declare(kDataDrop, "rusm_rt_data_drop", vd, {ptr, i32});
    declare(kTableGet, "rusm_rt_table_get", i64, {ptr, i32, i32, i32});
    declare(kTableSet, "rusm_rt_table_set", vd, {ptr, i32, i32, i64, i32});
    declare(kTableSize, "rusm_rt_table_size", i32, {ptr, i32});
    declare(kTableGrow, "rusm_rt_table_grow", i32, {ptr, i32, i64, i32});
    declare(kTableFill, "rusm_rt_table_fill", vd, {ptr, i32, i32, i64, i32, i32});
    declare(kTableCopy, "rusm_rt_table_copy", vd, {ptr, i32, i32, i32, i32, i32, i32});
    declare(kTableInit, "rusm_rt_table_init", vd, {ptr, i32, i32, i32, i32, i32, i32});
    declare(kElemDrop, "rusm_rt_elem_drop", vd, {ptr, i32});
    declare(kRefFunc, "rusm_rt_ref_func", i64, {ptr, i32});
  }

  // Slots a list of values takes in a slot array (a v128 takes two).
  static uint32_t slots_of(const std::vector<ValType>& types) {
    uint32_t n = 0;
    for (ValType t : types) {
      n += t == ValType::V128 ? 2 : 1;
    }
    return n;
  }

  // Stores values into a slot array, in order.
  void store_slots(IRBuilder<>& b, Value* slots, const std::vector<ValType>& types,
                   const std::vector<Value*>& values) {
    uint32_t s = 0;
    for (size_t i = 0; i < types.size(); ++i) {
      Value* p = b.CreateConstInBoundsGEP1_32(i64, slots, s);
      Value* v = values[i];
      if (types[i] == ValType::F32) {
        v = b.CreateZExt(b.CreateBitCast(v, i32), i64);
      } else if (types[i] == ValType::F64) {
        v = b.CreateBitCast(v, i64);
      } else if (types[i] == ValType::I32) {
        v = b.CreateZExt(v, i64);
      }
      b.CreateAlignedStore(v, p, llvm::Align(8));
      s += types[i] == ValType::V128 ? 2 : 1;
    }
  }

  std::vector<Value*> load_slots(IRBuilder<>& b, Value* slots, const std::vector<ValType>& types) {
    std::vector<Value*> out;
    uint32_t s = 0;
    for (ValType t : types) {
      Value* p = b.CreateConstInBoundsGEP1_32(i64, slots, s);
      Value* v;
      switch (t) {
        case ValType::I32:
          v = b.CreateAlignedLoad(i32, p, llvm::Align(8));
          break;
        case ValType::F32:
          v = b.CreateBitCast(b.CreateAlignedLoad(i32, p, llvm::Align(8)), f32);
          break;
        case ValType::F64:
          v = b.CreateBitCast(b.CreateAlignedLoad(i64, p, llvm::Align(8)), f64);
          break;
        case ValType::V128:
          v = b.CreateAlignedLoad(v128, p, llvm::Align(8));
          break;
        default:
          v = b.CreateAlignedLoad(i64, p, llvm::Align(8));
          break;
      }
      out.push_back(v);
      s += t == ValType::V128 ? 2 : 1;
    }
    return out;
  }

  // Unpacks a call's return value into the stack's order.
  std::vector<Value*> unpack(IRBuilder<>& b, Value* ret, const FuncType& ft) {
    std::vector<Value*> out;
    if (ft.results.size() == 1) {
      out.push_back(ret);
    } else {
      for (unsigned i = 0; i < ft.results.size(); ++i) {
        out.push_back(b.CreateExtractValue(ret, {i}));
      }
    }
    return out;
  }

  Value* pack(IRBuilder<>& b, const FuncType& ft, const std::vector<Value*>& values) {
    if (ft.results.empty()) {
      return nullptr;
    }
    if (ft.results.size() == 1) {
      return values[0];
    }
    Value* agg = llvm::UndefValue::get(result_type(ft));
    for (unsigned i = 0; i < values.size(); ++i) {
      agg = b.CreateInsertValue(agg, values[i], {i});
    }
    return agg;
  }

  // void tramp(VmCtx* ctx, fn, uint64_t* slots): the entry from C++.
  llvm::Function* trampoline(uint32_t type_index) {
    const FuncType& ft = ir.types[type_index];
    for (auto& [index, f] : tramps) {
      if (ir.types[index] == ft) {
        return f;
      }
    }
    auto* fty = llvm::FunctionType::get(vd, {ptr, ptr, ptr}, false);
    auto* f = llvm::Function::Create(fty, llvm::GlobalValue::InternalLinkage,
                                     "tramp" + std::to_string(type_index), mod);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    IRBuilder<> b(BasicBlock::Create(cx, "entry", f));
    std::vector<Value*> args{f->getArg(0)};
    for (Value* v : load_slots(b, f->getArg(2), ft.params)) {
      args.push_back(v);
    }
    llvm::CallInst* call = b.CreateCall(function_type(ft), f->getArg(1), args);
    call->setCallingConv(llvm::CallingConv::Fast);
    if (!ft.results.empty()) {
      store_slots(b, f->getArg(2), ft.results, unpack(b, call, ft));
    }
    b.CreateRetVoid();
    tramps[type_index] = f;
    return f;
  }
};

// One function body.
class FunctionGen final : public CodeGen {
 public:
  FunctionGen(ModuleGen& m, uint32_t def_index)
      : m_(m),
        b_(m.cx),
        def_index_(def_index),
        func_index_(m.ir.num_imported_funcs + def_index),
        type_(m.ir.func_type(func_index_)),
        fn_(m.funcs[def_index]),
        simd_(b_) {}

  const std::string& error() const override { return error_; }
  ErrorCode error_code() const override { return error_code_; }

  void begin() {
    BasicBlock* entry = BasicBlock::Create(m_.cx, "entry", fn_);
    b_.SetInsertPoint(entry);
    ctx_ = fn_->getArg(0);
    const FunctionBody& body = m_.ir.bodies[def_index_];
    uint32_t arg = 1;
    for (ValType t : type_.params) {
      llvm::AllocaInst* a = b_.CreateAlloca(m_.type_of(t));
      b_.CreateStore(fn_->getArg(arg++), a);
      locals_.push_back(a);
      local_types_.push_back(t);
    }
    for (ValType t : body.locals) {
      llvm::AllocaInst* a = b_.CreateAlloca(m_.type_of(t));
      b_.CreateStore(llvm::Constant::getNullValue(m_.type_of(t)), a);
      locals_.push_back(a);
      local_types_.push_back(t);
    }
    fuel_ = b_.CreateAlloca(m_.i64);
    slots_ = nullptr;
    run_ = engine_load(m_.ptr, ctx_, 0, true);
    memory_ = engine_load(m_.ptr, ctx_, 8, true);
    if (!m_.ir.memories.empty()) {
      // Never null with a memory, and its fields always readable: LLVM may
      // then hoist the base and size out of loops past calls that might not
      // return (the out-of-fuel yield).
      const internal::NativeLayout& l = m_.layout;
      uint64_t fields = std::max({l.memory_base, l.memory_size, l.memory_dirty}) + 8;
      auto* load = llvm::cast<llvm::LoadInst>(memory_);
      load->setMetadata(llvm::LLVMContext::MD_nonnull, llvm::MDNode::get(m_.cx, {}));
      load->setMetadata(llvm::LLVMContext::MD_align,
                        llvm::MDNode::get(m_.cx, {llvm::ConstantAsMetadata::get(b_.getInt64(8))}));
      load->setMetadata(
          llvm::LLVMContext::MD_dereferenceable,
          llvm::MDNode::get(m_.cx, {llvm::ConstantAsMetadata::get(b_.getInt64(fields))}));
    }
    b_.CreateStore(run_load(m_.i64, 0), fuel_);

    // The stack pointer against the run's limit: deep recursion traps here.
    llvm::Function* read_sp =
        llvm::Intrinsic::getDeclaration(&m_.mod, llvm::Intrinsic::read_register, {m_.i64});
    llvm::Metadata* reg = llvm::MDString::get(m_.cx, m_.stack_register);
    Value* sp = b_.CreateCall(read_sp,
                              {llvm::MetadataAsValue::get(m_.cx, llvm::MDNode::get(m_.cx, {reg}))});
    Value* limit = run_load(m_.i64, 8);
    trap_if(b_.CreateICmpULT(sp, limit), TrapCode::kCallStackExhausted);
    check_fuel();

    Ctl f;
    f.kind = FrameKind::kFunction;
    f.height = 0;
    f.results = type_.results;
    f.end = BasicBlock::Create(m_.cx, "return", fn_);
    make_phis(f.end, f.results, &f.end_phis);
    f.label = f.end;
    f.label_phis = f.end_phis;
    ctls_.push_back(std::move(f));
  }

  // --- control

  bool on_unreachable() override {
    if (dead()) {
      return true;
    }
    count(1);
    flush();
    b_.CreateCall(m_.helpers[kTrap],
                  {ctx_, b_.getInt32(static_cast<uint32_t>(TrapCode::kUnreachable)),
                   b_.getInt32(func_index_)});
    b_.CreateUnreachable();
    set_dead();
    return true;
  }

  bool on_block(FrameKind kind, const std::vector<ValType>& params,
                const std::vector<ValType>& results) override {
    Ctl f;
    f.kind = kind;
    f.params = params;
    f.results = results;
    f.height = stack_.size() - params.size();
    if (dead()) {
      f.live = false;
      f.dead = true;
      ctls_.push_back(std::move(f));
      return true;
    }
    f.end = BasicBlock::Create(m_.cx, kind == FrameKind::kLoop ? "loop_end" : "block_end", fn_);
    make_phis(f.end, results, &f.end_phis);
    if (kind == FrameKind::kLoop) {
      flush();
      BasicBlock* header = BasicBlock::Create(m_.cx, "loop", fn_);
      BasicBlock* from = b_.GetInsertBlock();
      b_.CreateBr(header);
      b_.SetInsertPoint(header);
      make_phis(header, params, &f.label_phis);
      for (size_t i = 0; i < params.size(); ++i) {
        f.label_phis[i]->addIncoming(stack_[f.height + i], from);
        stack_[f.height + i] = f.label_phis[i];
      }
      f.label = header;
      since_check_ = 0;
      check_fuel();
    } else {
      f.label = f.end;
      f.label_phis = f.end_phis;
    }
    ctls_.push_back(std::move(f));
    return true;
  }

  bool on_if(const std::vector<ValType>& params, const std::vector<ValType>& results) override {
    Value* cond = pop();
    Ctl f;
    f.kind = FrameKind::kIf;
    f.params = params;
    f.results = results;
    f.height = stack_.size() - params.size();
    if (dead()) {
      f.live = false;
      f.dead = true;
      ctls_.push_back(std::move(f));
      return true;
    }
    count(1);
    flush();
    f.end = BasicBlock::Create(m_.cx, "if_end", fn_);
    make_phis(f.end, results, &f.end_phis);
    f.label = f.end;
    f.label_phis = f.end_phis;
    BasicBlock* then_bb = BasicBlock::Create(m_.cx, "then", fn_);
    f.else_bb = BasicBlock::Create(m_.cx, "else", fn_);
    b_.CreateCondBr(b_.CreateICmpNE(cond, b_.getInt32(0)), then_bb, f.else_bb);
    f.else_values.assign(stack_.begin() + static_cast<std::ptrdiff_t>(f.height), stack_.end());
    b_.SetInsertPoint(then_bb);
    ctls_.push_back(std::move(f));
    return true;
  }

  bool on_else() override {
    Ctl& f = ctls_.back();
    if (f.live) {
      if (!f.dead) {
        flush();
        branch_to(f.end, f.end_phis, f.results.size());
        f.end_reached = true;
      }
      b_.SetInsertPoint(f.else_bb);
      f.else_bb = nullptr;
      f.dead = false;
      stack_.resize(f.height);
      for (Value* v : f.else_values) {
        stack_.push_back(v);
      }
    } else {
      stack_.resize(f.height);
      for (size_t i = 0; i < f.params.size(); ++i) {
        stack_.push_back(nullptr);
      }
    }
    f.kind = FrameKind::kElse;
    return true;
  }

  bool on_end() override {
    Ctl f = std::move(ctls_.back());
    if (f.live) {
      if (!f.dead) {
        flush();
        branch_to(f.end, f.end_phis, f.results.size());
        f.end_reached = true;
      }
      if (f.else_bb != nullptr) {  // an if without else passes its params through
        b_.SetInsertPoint(f.else_bb);
        for (size_t i = 0; i < f.end_phis.size(); ++i) {
          f.end_phis[i]->addIncoming(f.else_values[i], f.else_bb);
        }
        b_.CreateBr(f.end);
        f.end_reached = true;
      }
    }
    ctls_.pop_back();
    stack_.resize(f.height);
    if (f.kind == FrameKind::kFunction) {
      finish_function(f);
      return true;
    }
    if (f.live && f.end_reached) {
      b_.SetInsertPoint(f.end);
      for (PHINode* p : f.end_phis) {
        stack_.push_back(p);
      }
      ctls_.back().dead = false;
    } else {
      if (f.end != nullptr) {
        drop_block(f.end);
      }
      for (size_t i = 0; i < f.results.size(); ++i) {
        stack_.push_back(nullptr);
      }
      ctls_.back().dead = true;
    }
    return true;
  }

  bool on_br(uint32_t depth) override {
    if (dead()) {
      return true;
    }
    count(1);
    flush();
    branch_label(depth);
    set_dead();
    return true;
  }

  bool on_br_if(uint32_t depth) override {
    Value* cond = pop();
    if (dead()) {
      return true;
    }
    count(1);
    flush();
    BasicBlock* taken = BasicBlock::Create(m_.cx, "br_if", fn_);
    BasicBlock* cont = BasicBlock::Create(m_.cx, "cont", fn_);
    b_.CreateCondBr(b_.CreateICmpNE(cond, b_.getInt32(0)), taken, cont);
    b_.SetInsertPoint(taken);
    branch_label(depth);
    b_.SetInsertPoint(cont);
    return true;
  }

  bool on_br_table(const std::vector<uint32_t>& depths, uint32_t default_depth) override {
    Value* index = pop();
    if (dead()) {
      return true;
    }
    count(1);
    flush();
    // One block per distinct target, so that each label's phis get one
    // incoming value from this branch however many entries name it.
    std::map<uint32_t, BasicBlock*> via;
    auto block_for = [&](uint32_t depth) {
      auto [it, inserted] = via.try_emplace(depth, nullptr);
      if (inserted) {
        it->second = BasicBlock::Create(m_.cx, "br_table", fn_);
      }
      return it->second;
    };
    llvm::SwitchInst* sw =
        b_.CreateSwitch(index, block_for(default_depth), static_cast<unsigned>(depths.size()));
    for (size_t i = 0; i < depths.size(); ++i) {
      sw->addCase(b_.getInt32(static_cast<uint32_t>(i)), block_for(depths[i]));
    }
    for (auto& [depth, bb] : via) {
      b_.SetInsertPoint(bb);
      branch_label(depth);
    }
    set_dead();
    return true;
  }

  bool on_return() override {
    if (dead()) {
      return true;
    }
    count(1);
    flush();
    branch_label(static_cast<uint32_t>(ctls_.size() - 1));
    set_dead();
    return true;
  }

  bool on_call(uint32_t func_index, const FuncType& type) override {
    std::vector<Value*> args = pop_n(type.params.size());
    if (dead()) {
      push_dead(type.results.size());
      return true;
    }
    count(1);
    std::vector<Value*> results;
    if (func_index < m_.ir.num_imported_funcs) {
      results = call_via_slots(m_.helpers[kCallImport], b_.getInt32(func_index), type, args);
    } else {
      before_call();
      std::vector<Value*> call_args{ctx_};
      call_args.insert(call_args.end(), args.begin(), args.end());
      llvm::CallInst* call =
          b_.CreateCall(m_.funcs[func_index - m_.ir.num_imported_funcs], call_args);
      call->setCallingConv(llvm::CallingConv::Fast);
      // Never a loop: unbounded recursion must reach the stack check.
      call->setTailCallKind(llvm::CallInst::TCK_NoTail);
      after_call();
      if (!type.results.empty()) {
        results = m_.unpack(b_, call, type);
      }
    }
    push_all(results);
    return true;
  }

  bool on_call_indirect(uint32_t type_index, uint32_t table_index, const FuncType& type) override {
    Value* index = pop();
    std::vector<Value*> args = pop_n(type.params.size());
    if (dead()) {
      push_dead(type.results.size());
      return true;
    }
    count(1);
    const internal::NativeLayout& l = m_.layout;
    Value* view = table_view(table_index);
    Value* size = b_.CreateLoad(m_.i64, b_.CreateConstInBoundsGEP1_32(m_.i8, view, 8));
    tag(size, m_.tbaa_engine);
    Value* index64 = b_.CreateZExt(index, m_.i64);
    trap_element_if(b_.CreateICmpUGE(index64, size), TrapCode::kUndefinedElement, index);
    Value* data = b_.CreateLoad(m_.ptr, view);
    tag(data, m_.tbaa_engine);
    Value* elem = b_.CreateLoad(m_.ptr, b_.CreateInBoundsGEP(m_.i64, data, index64));
    tag(elem, m_.tbaa_engine);
    trap_element_if(b_.CreateIsNull(elem), TrapCode::kUninitializedElement, index);
    Value* type_id =
        b_.CreateLoad(m_.i32, b_.CreateConstInBoundsGEP1_32(m_.i8, elem, l.func_type_id));
    tag(type_id, m_.tbaa_engine);
    Value* ids = engine_load(m_.ptr, ctx_, 48, true);
    Value* expected = b_.CreateLoad(m_.i32, b_.CreateConstInBoundsGEP1_32(m_.i32, ids, type_index));
    tag(expected, m_.tbaa_engine);
    llvm::cast<llvm::Instruction>(expected)->setMetadata(llvm::LLVMContext::MD_invariant_load,
                                                         m_.invariant);
    trap_if(b_.CreateICmpNE(type_id, expected), TrapCode::kIndirectCallTypeMismatch);
    Value* code = b_.CreateLoad(m_.ptr, b_.CreateConstInBoundsGEP1_32(m_.i8, elem, l.func_code));
    tag(code, m_.tbaa_engine);
    Value* inst =
        b_.CreateLoad(m_.ptr, b_.CreateConstInBoundsGEP1_32(m_.i8, elem, l.func_instance));
    tag(inst, m_.tbaa_engine);
    Value* own = engine_load(m_.ptr, ctx_, 40, true);
    Value* direct = b_.CreateAnd(b_.CreateICmpEQ(inst, own), b_.CreateIsNotNull(code));
    BasicBlock* fast = BasicBlock::Create(m_.cx, "call_direct", fn_);
    BasicBlock* slow = BasicBlock::Create(m_.cx, "call_ref", fn_);
    BasicBlock* join = BasicBlock::Create(m_.cx, "call_join", fn_);
    b_.CreateCondBr(direct, fast, slow, likely());

    b_.SetInsertPoint(fast);
    Value* native =
        b_.CreateLoad(m_.ptr, b_.CreateConstInBoundsGEP1_32(m_.i8, code, l.code_native));
    tag(native, m_.tbaa_engine);
    before_call();
    std::vector<Value*> call_args{ctx_};
    call_args.insert(call_args.end(), args.begin(), args.end());
    llvm::CallInst* call = b_.CreateCall(m_.function_type(type), native, call_args);
    call->setCallingConv(llvm::CallingConv::Fast);
    call->setTailCallKind(llvm::CallInst::TCK_NoTail);
    after_call();
    std::vector<Value*> fast_results;
    if (!type.results.empty()) {
      fast_results = m_.unpack(b_, call, type);
    }
    BasicBlock* fast_end = b_.GetInsertBlock();
    b_.CreateBr(join);

    b_.SetInsertPoint(slow);
    std::vector<Value*> slow_results = call_via_slots(m_.helpers[kCallRef], elem, type, args);
    BasicBlock* slow_end = b_.GetInsertBlock();
    b_.CreateBr(join);

    b_.SetInsertPoint(join);
    for (size_t i = 0; i < type.results.size(); ++i) {
      PHINode* p = b_.CreatePHI(m_.type_of(type.results[i]), 2);
      p->addIncoming(fast_results[i], fast_end);
      p->addIncoming(slow_results[i], slow_end);
      stack_.push_back(p);
    }
    return true;
  }

  // --- parametric and variables

  bool on_drop() override {
    pop();
    return true;
  }

  bool on_select(ValType) override {
    Value* cond = pop();
    Value* second = pop();
    Value* first = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(b_.CreateSelect(b_.CreateICmpNE(cond, b_.getInt32(0)), first, second));
    return true;
  }

  bool on_local_get(uint32_t index) override {
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    stack_.push_back(b_.CreateLoad(m_.type_of(local_types_[index]), locals_[index]));
    return true;
  }

  bool on_local_set(uint32_t index, bool tee) override {
    Value* v = pop();
    if (dead()) {
      if (tee) {
        stack_.push_back(nullptr);
      }
      return true;
    }
    b_.CreateStore(v, locals_[index]);
    if (tee) {
      stack_.push_back(v);
    }
    return true;
  }

  bool on_global_get(uint32_t index, ValType type) override {
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    Value* cell = global_cell(index);
    llvm::LoadInst* v = b_.CreateAlignedLoad(m_.type_of(type), cell, llvm::Align(8));
    tag(v, m_.tbaa_global);
    stack_.push_back(v);
    return true;
  }

  bool on_global_set(uint32_t index, ValType type) override {
    Value* v = pop();
    if (dead()) {
      return true;
    }
    count(1);
    Value* cell = global_cell(index);
    if (type == ValType::I32) {  // the cell's high bits stay zero, as the interpreter keeps them
      v = b_.CreateZExt(v, m_.i64);
    } else if (type == ValType::F32) {
      v = b_.CreateZExt(b_.CreateBitCast(v, m_.i32), m_.i64);
    }
    tag(b_.CreateAlignedStore(v, cell, llvm::Align(8)), m_.tbaa_global);
    return true;
  }

  // --- constants

  bool on_const(ValType type, uint64_t lo, uint64_t hi) override {
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    Value* v;
    switch (type) {
      case ValType::I32:
        v = b_.getInt32(static_cast<uint32_t>(lo));
        break;
      case ValType::F32:
        v = llvm::ConstantFP::get(
            m_.cx, llvm::APFloat(llvm::APFloat::IEEEsingle(), llvm::APInt(32, lo & 0xffffffffu)));
        break;
      case ValType::F64:
        v = llvm::ConstantFP::get(m_.cx,
                                  llvm::APFloat(llvm::APFloat::IEEEdouble(), llvm::APInt(64, lo)));
        break;
      case ValType::V128:
        v = llvm::ConstantVector::get({b_.getInt64(lo), b_.getInt64(hi)});
        break;
      default:
        v = b_.getInt64(lo);
        break;
    }
    stack_.push_back(v);
    return true;
  }

  // --- table-typed instructions

  bool on_numeric(Opcode op) override {
    const OpcodeInfo& info = opcode_info(op);
    size_t arity = info.c != kNoType ? 3 : info.b != kNoType ? 2 : 1;
    std::vector<Value*> in = pop_n(arity);
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    Value* r = is_simd(info) ? simd_.numeric(op, in) : numeric(op, in);
    if (r == nullptr) {
      return unsupported(op);
    }
    stack_.push_back(r);
    return true;
  }

  bool on_load(Opcode op, uint64_t offset) override {
    const OpcodeInfo& info = opcode_info(op);
    Value* addr = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    uint32_t bytes = 1u << info.align;
    Value* p = address(addr, offset, bytes);
    Type* mem_type = b_.getIntNTy(bytes * 8);
    Type* result = m_.type_of(info.result);
    if (result->isFloatingPointTy()) {
      mem_type = result;
    } else if (is_simd(info)) {
      mem_type = simd_.load_type(op);
    }
    llvm::LoadInst* v = b_.CreateAlignedLoad(mem_type, p, llvm::Align(1));
    tag(v, m_.tbaa_memory);
    Value* r = v;
    if (is_simd(info)) {
      r = simd_.loaded(op, v);
    } else if (!result->isFloatingPointTy() && mem_type != result) {
      bool sign = load_is_signed(op);
      r = sign ? b_.CreateSExt(v, result) : b_.CreateZExt(v, result);
    }
    stack_.push_back(r);
    return true;
  }

  bool on_store(Opcode op, uint64_t offset) override {
    const OpcodeInfo& info = opcode_info(op);
    Value* v = pop();
    Value* addr = pop();
    if (dead()) {
      return true;
    }
    count(1);
    uint32_t bytes = 1u << info.align;
    Value* ea = nullptr;
    Value* p = address(addr, offset, bytes, &ea);
    if (v->getType()->isIntegerTy() && v->getType()->getIntegerBitWidth() != bytes * 8) {
      v = b_.CreateTrunc(v, b_.getIntNTy(bytes * 8));
    }
    tag(b_.CreateAlignedStore(v, p, llvm::Align(1)), m_.tbaa_memory);
    mark_dirty(ea);
    return true;
  }

  bool on_load_lane(Opcode op, uint64_t offset, uint8_t lane) override {
    Value* vec = pop();
    Value* addr = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    Value* p = address(addr, offset, 1u << opcode_info(op).align);
    llvm::LoadInst* v = b_.CreateAlignedLoad(simd_.lane_type(op), p, llvm::Align(1));
    tag(v, m_.tbaa_memory);
    stack_.push_back(simd_.insert_lane(op, vec, lane, v));
    return true;
  }

  bool on_store_lane(Opcode op, uint64_t offset, uint8_t lane) override {
    Value* vec = pop();
    Value* addr = pop();
    if (dead()) {
      return true;
    }
    count(1);
    Value* ea = nullptr;
    Value* p = address(addr, offset, 1u << opcode_info(op).align, &ea);
    tag(b_.CreateAlignedStore(simd_.extract_lane(op, vec, lane), p, llvm::Align(1)),
        m_.tbaa_memory);
    mark_dirty(ea);
    return true;
  }

  bool on_lane(Opcode op, uint8_t lane) override {
    std::vector<Value*> in = pop_n(opcode_info(op).b != kNoType ? 2 : 1);
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(simd_.lane(op, lane, in));
    return true;
  }

  bool on_shuffle(const uint8_t lanes[16]) override {
    Value* c = pop();
    Value* a = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(simd_.shuffle(a, c, lanes));
    return true;
  }

  // --- memory, tables and references

  bool on_memory_size() override {
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    Value* size = memory_field(m_.layout.memory_size);
    stack_.push_back(b_.CreateTrunc(b_.CreateLShr(size, 16), m_.i32));
    return true;
  }

  bool on_memory_grow() override {
    Value* delta = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(helper(kMemoryGrow, {delta}));
    return true;
  }

  bool on_memory_init(uint32_t segment) override {
    return bulk(kMemoryInit, 3, {b_.getInt32(segment)}, true);
  }
  bool on_data_drop(uint32_t segment) override {
    return bulk(kDataDrop, 0, {b_.getInt32(segment)}, false);
  }
  bool on_memory_copy() override { return bulk(kMemoryCopy, 3, {}, true); }
  bool on_memory_fill() override { return bulk(kMemoryFill, 3, {}, true); }

  bool on_table_get(uint32_t table, ValType) override {
    Value* i = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(helper(kTableGet, {b_.getInt32(table), i, b_.getInt32(func_index_)}));
    return true;
  }
  bool on_table_set(uint32_t table, ValType) override {
    Value* v = pop();
    Value* i = pop();
    if (dead()) {
      return true;
    }
    count(1);
    helper(kTableSet, {b_.getInt32(table), i, v, b_.getInt32(func_index_)});
    return true;
  }
  bool on_table_init(uint32_t table, uint32_t segment) override {
    return bulk(kTableInit, 3, {b_.getInt32(table), b_.getInt32(segment)}, true);
  }
  bool on_elem_drop(uint32_t segment) override {
    return bulk(kElemDrop, 0, {b_.getInt32(segment)}, false);
  }
  bool on_table_copy(uint32_t dst_table, uint32_t src_table) override {
    return bulk(kTableCopy, 3, {b_.getInt32(dst_table), b_.getInt32(src_table)}, true);
  }
  bool on_table_grow(uint32_t table, ValType) override {
    Value* n = pop();
    Value* init = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(helper(kTableGrow, {b_.getInt32(table), init, n}));
    return true;
  }
  bool on_table_size(uint32_t table) override {
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(helper(kTableSize, {b_.getInt32(table)}));
    return true;
  }
  bool on_table_fill(uint32_t table, ValType) override {
    Value* n = pop();
    Value* v = pop();
    Value* i = pop();
    if (dead()) {
      return true;
    }
    count(1);
    helper(kTableFill, {b_.getInt32(table), i, v, n, b_.getInt32(func_index_)});
    return true;
  }
  bool on_ref_is_null() override {
    Value* r = pop();
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(b_.CreateZExt(b_.CreateICmpEQ(r, b_.getInt64(0)), m_.i32));
    return true;
  }
  bool on_ref_func(uint32_t func_index) override {
    if (dead()) {
      stack_.push_back(nullptr);
      return true;
    }
    count(1);
    stack_.push_back(helper(kRefFunc, {b_.getInt32(func_index)}));
    return true;
  }

 private:
  struct Ctl {
    FrameKind kind = FrameKind::kBlock;
    size_t height = 0;
    std::vector<ValType> params, results;
    bool live = true;   // reachable when it began (else nothing inside is emitted)
    bool dead = false;  // the code being emitted now is unreachable
    bool end_reached = false;
    BasicBlock* label = nullptr;  // where a branch to it goes
    std::vector<PHINode*> label_phis;
    BasicBlock* end = nullptr;  // after the frame
    std::vector<PHINode*> end_phis;
    BasicBlock* else_bb = nullptr;  // an if's else, until on_else
    std::vector<Value*> else_values;
  };

  bool dead() const { return ctls_.back().dead; }
  void set_dead() { ctls_.back().dead = true; }

  Value* pop() {
    if (stack_.size() > ctls_.back().height) {
      Value* v = stack_.back();
      stack_.pop_back();
      return v;
    }
    return nullptr;  // bottom, in unreachable code
  }
  std::vector<Value*> pop_n(size_t n) {
    std::vector<Value*> v(n);
    for (size_t i = n; i-- > 0;) {
      v[i] = pop();
    }
    return v;
  }
  void push_all(const std::vector<Value*>& v) { stack_.insert(stack_.end(), v.begin(), v.end()); }
  void push_dead(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      stack_.push_back(nullptr);
    }
  }

  bool unsupported(Opcode op) {
    error_ = std::string("not supported yet: ") + opcode_name(op) + " in the compiled tier";
    error_code_ = ErrorCode::kUsage;
    return false;
  }
  static bool is_simd(const OpcodeInfo& info) {
    return info.prefix == kPrefixFD || info.a == ValType::V128 || info.result == ValType::V128;
  }

  void tag(Value* v, llvm::MDNode* t) {
    llvm::cast<llvm::Instruction>(v)->setMetadata(llvm::LLVMContext::MD_tbaa, t);
  }

  llvm::MDNode* likely() { return llvm::MDBuilder(m_.cx).createLikelyBranchWeights(); }
  llvm::MDNode* unlikely() { return llvm::MDBuilder(m_.cx).createUnlikelyBranchWeights(); }

  // A field of an engine object at `offset`.
  Value* engine_load(Type* t, Value* base, uint32_t offset, bool invariant) {
    llvm::LoadInst* v = b_.CreateLoad(t, b_.CreateConstInBoundsGEP1_32(m_.i8, base, offset));
    tag(v, m_.tbaa_engine);
    if (invariant) {
      v->setMetadata(llvm::LLVMContext::MD_invariant_load, m_.invariant);
    }
    return v;
  }
  Value* run_load(Type* t, uint32_t offset) {
    llvm::LoadInst* v = b_.CreateLoad(t, b_.CreateConstInBoundsGEP1_32(m_.i8, run_, offset));
    tag(v, m_.tbaa_run);
    return v;
  }
  Value* memory_field(uint32_t offset) { return engine_load(m_.i64, memory_, offset, false); }

  Value* global_cell(uint32_t index) {
    Value* cells = engine_load(m_.ptr, ctx_, 16, true);
    llvm::LoadInst* cell =
        b_.CreateLoad(m_.ptr, b_.CreateConstInBoundsGEP1_32(m_.ptr, cells, index));
    tag(cell, m_.tbaa_engine);
    cell->setMetadata(llvm::LLVMContext::MD_invariant_load, m_.invariant);
    return cell;
  }

  Value* table_view(uint32_t table) {
    Value* views = engine_load(m_.ptr, ctx_, 24, true);
    llvm::LoadInst* v = b_.CreateLoad(m_.ptr, b_.CreateConstInBoundsGEP1_32(m_.ptr, views, table));
    tag(v, m_.tbaa_engine);
    v->setMetadata(llvm::LLVMContext::MD_invariant_load, m_.invariant);
    return v;
  }

  BasicBlock* trap_block(TrapCode code) {
    BasicBlock*& bb = traps_[static_cast<int>(code)];
    if (bb == nullptr) {
      BasicBlock* here = b_.GetInsertBlock();
      bb = BasicBlock::Create(m_.cx, "trap", fn_);
      b_.SetInsertPoint(bb);
      b_.CreateCall(m_.helpers[kTrap],
                    {ctx_, b_.getInt32(static_cast<uint32_t>(code)), b_.getInt32(func_index_)});
      b_.CreateUnreachable();
      b_.SetInsertPoint(here);
    }
    return bb;
  }

  void trap_if(Value* cond, TrapCode code) {
    BasicBlock* cont = BasicBlock::Create(m_.cx, "ok", fn_);
    b_.CreateCondBr(cond, trap_block(code), cont, unlikely());
    b_.SetInsertPoint(cont);
  }

  void trap_element_if(Value* cond, TrapCode code, Value* index) {
    BasicBlock* bad = BasicBlock::Create(m_.cx, "trap_element", fn_);
    BasicBlock* cont = BasicBlock::Create(m_.cx, "ok", fn_);
    b_.CreateCondBr(cond, bad, cont, unlikely());
    b_.SetInsertPoint(bad);
    b_.CreateCall(m_.helpers[kTrapElement], {ctx_, b_.getInt32(static_cast<uint32_t>(code)),
                                             b_.getInt32(func_index_), index});
    b_.CreateUnreachable();
    b_.SetInsertPoint(cont);
  }

  // The effective address's pointer, after the bounds check.
  Value* address(Value* addr, uint64_t offset, uint32_t bytes, Value** ea_out = nullptr) {
    Value* ea = b_.CreateAdd(b_.CreateZExt(addr, m_.i64), b_.getInt64(offset));
    Value* size = memory_field(m_.layout.memory_size);
    Value* end = b_.CreateAdd(ea, b_.getInt64(bytes));
    trap_if(b_.CreateICmpUGT(end, size), TrapCode::kOutOfBoundsMemory);
    Value* base = engine_load(m_.ptr, memory_, m_.layout.memory_base, false);
    if (ea_out != nullptr) {
      *ea_out = ea;
    }
    return b_.CreateInBoundsGEP(m_.i8, base, ea);
  }

  // Marks the chunk of a store at ea written (memory.h): base[~(ea >> 8)].
  void mark_dirty(Value* ea) {
    Value* base = engine_load(m_.ptr, memory_, m_.layout.memory_base, false);
    Value* index = b_.CreateNot(b_.CreateLShr(ea, internal::kChunkShift));
    Value* p = b_.CreateGEP(m_.i8, base, index);
    llvm::LoadInst* mark = b_.CreateLoad(m_.i8, p);
    tag(mark, m_.tbaa_dirty);
    BasicBlock* first = BasicBlock::Create(m_.cx, "first_write", fn_);
    BasicBlock* cont = BasicBlock::Create(m_.cx, "marked", fn_);
    b_.CreateCondBr(b_.CreateICmpEQ(mark, b_.getInt8(0)), first, cont, unlikely());
    b_.SetInsertPoint(first);
    tag(b_.CreateStore(b_.getInt8(1), p), m_.tbaa_dirty);
    Value* counter = b_.CreateConstInBoundsGEP1_32(m_.i8, memory_, m_.layout.memory_dirty);
    llvm::LoadInst* n = b_.CreateLoad(m_.i64, counter);
    tag(n, m_.tbaa_dirty_count);
    tag(b_.CreateStore(b_.CreateAdd(n, b_.getInt64(1)), counter), m_.tbaa_dirty_count);
    b_.CreateBr(cont);
    b_.SetInsertPoint(cont);
  }

  // --- fuel

  void count(uint64_t n) {
    pending_ += n;
    since_check_ += n;
    if (since_check_ >= kMaxUncheckedFuel) {
      check_fuel();
    }
  }

  // Charges the instructions emitted since the last charge.
  void flush() {
    if (pending_ == 0) {
      return;
    }
    Value* f = b_.CreateLoad(m_.i64, fuel_);
    b_.CreateStore(b_.CreateSub(f, b_.getInt64(pending_)), fuel_);
    pending_ = 0;
  }

  // Yields to the scheduler when the fuel is spent.
  void check_fuel() {
    flush();
    since_check_ = 0;
    Value* f = b_.CreateLoad(m_.i64, fuel_);
    BasicBlock* out = BasicBlock::Create(m_.cx, "out_of_fuel", fn_);
    BasicBlock* cont = BasicBlock::Create(m_.cx, "fueled", fn_);
    b_.CreateCondBr(b_.CreateICmpSLT(f, b_.getInt64(0)), out, cont, unlikely());
    b_.SetInsertPoint(out);
    b_.CreateStore(b_.CreateCall(m_.helpers[kOutOfFuel], {ctx_, f}), fuel_);
    b_.CreateBr(cont);
    b_.SetInsertPoint(cont);
  }

  // Around any call: the run's fuel counter is the callee's.
  void before_call() {
    flush();
    tag(b_.CreateStore(b_.CreateLoad(m_.i64, fuel_), run_), m_.tbaa_run);
  }
  void after_call() { b_.CreateStore(run_load(m_.i64, 0), fuel_); }

  Value* helper(Helper h, std::vector<Value*> args) {
    args.insert(args.begin(), ctx_);
    before_call();
    Value* r = b_.CreateCall(m_.helpers[h], args);
    after_call();
    return r;
  }

  // A bulk operation: pops `operands` i32s and calls the helper with the
  // immediates first, then the operands, then (if it can trap) the function.
  bool bulk(Helper h, size_t operands, std::vector<Value*> immediates, bool traps) {
    std::vector<Value*> in = pop_n(operands);
    if (dead()) {
      return true;
    }
    count(1);
    std::vector<Value*> args = immediates;
    args.insert(args.end(), in.begin(), in.end());
    if (traps) {
      args.push_back(b_.getInt32(func_index_));
    }
    helper(h, args);
    return true;
  }

  // Calls a helper that takes the arguments and returns the results in a
  // slot array (imports, and indirect calls leaving the instance).
  std::vector<Value*> call_via_slots(llvm::FunctionCallee h, Value* target, const FuncType& type,
                                     const std::vector<Value*>& args) {
    uint32_t n =
        std::max({ModuleGen::slots_of(type.params), ModuleGen::slots_of(type.results), 1u});
    if (n > slots_size_) {
      // One array per function, in the entry block, as large as its largest call needs.
      IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
      slots_ = entry.CreateAlloca(llvm::ArrayType::get(m_.i64, n));
      slots_->setAlignment(llvm::Align(16));
      slots_size_ = n;
    }
    m_.store_slots(b_, slots_, type.params, args);
    before_call();
    b_.CreateCall(h, {ctx_, target, slots_, b_.getInt32(func_index_)});
    after_call();
    return m_.load_slots(b_, slots_, type.results);
  }

  // --- branches

  void make_phis(BasicBlock* bb, const std::vector<ValType>& types, std::vector<PHINode*>* out) {
    IRBuilder<> pb(bb);
    for (ValType t : types) {
      out->push_back(pb.CreatePHI(m_.type_of(t), 2));
    }
  }

  // Branches to `target`, passing the top `arity` values to its phis.
  void branch_to(BasicBlock* target, const std::vector<PHINode*>& phis, size_t arity) {
    BasicBlock* from = b_.GetInsertBlock();
    for (size_t i = 0; i < arity; ++i) {
      phis[i]->addIncoming(stack_[stack_.size() - arity + i], from);
    }
    b_.CreateBr(target);
  }

  void branch_label(uint32_t depth) {
    Ctl& f = ctls_[ctls_.size() - 1 - depth];
    size_t arity = f.kind == FrameKind::kLoop ? f.params.size() : f.results.size();
    branch_to(f.label, f.label_phis, arity);
    if (f.kind != FrameKind::kLoop) {
      f.end_reached = true;
    }
  }

  void drop_block(BasicBlock* bb) {
    while (!bb->empty()) {
      llvm::Instruction& i = bb->back();
      i.replaceAllUsesWith(llvm::PoisonValue::get(i.getType()));
      i.eraseFromParent();
    }
    bb->eraseFromParent();
  }

  void finish_function(Ctl& f) {
    if (!f.end_reached) {
      drop_block(f.end);
      return;
    }
    b_.SetInsertPoint(f.end);
    tag(b_.CreateStore(b_.CreateLoad(m_.i64, fuel_), run_), m_.tbaa_run);
    std::vector<Value*> values(f.end_phis.begin(), f.end_phis.end());
    if (type_.results.empty()) {
      b_.CreateRetVoid();
    } else {
      b_.CreateRet(m_.pack(b_, type_, values));
    }
  }

  // --- numeric instructions

  static bool load_is_signed(Opcode op) {
    switch (op) {
      case Opcode::i32_load8_s:
      case Opcode::i32_load16_s:
      case Opcode::i64_load8_s:
      case Opcode::i64_load16_s:
      case Opcode::i64_load32_s:
        return true;
      default:
        return false;
    }
  }

  Value* intrinsic(llvm::Intrinsic::ID id, std::vector<Type*> types, std::vector<Value*> args) {
    return b_.CreateIntrinsic(id, types, args);
  }

  Value* bool32(Value* cond) { return b_.CreateZExt(cond, m_.i32); }

  // Wasm arithmetic returns a quiet NaN for a signalling one. LLVM does not
  // model signalling NaNs: it folds x - 0.0, x * 1.0, x / -1.0 to x (or -x)
  // and demote(promote(x)) to x, so those results are quieted by setting the
  // quiet bit of a NaN (min and max: float_ops.h)
  // (llvm.canonicalize would say it, but x86 cannot select it in LLVM 19).
  // Other arithmetic quiets in hardware.
  Value* quiet(Value* v) {
    Type* t = v->getType();
    bool f64 = t->isDoubleTy();
    Type* it = f64 ? m_.i64 : m_.i32;
    llvm::Constant* bit = f64 ? b_.getInt64(uint64_t{1} << 51) : b_.getInt32(1u << 22);
    Value* quieted = b_.CreateBitCast(b_.CreateOr(b_.CreateBitCast(v, it), bit), t);
    return b_.CreateSelect(b_.CreateFCmpUNO(v, v), quieted, v);
  }
  Value* quiet_if_folded(Value* v, Value* a, Value* c) {
    return llvm::isa<llvm::ConstantFP>(a) || llvm::isa<llvm::ConstantFP>(c) ? quiet(v) : v;
  }

  // Integer division and remainder, with the Wasm traps.
  Value* divide(Opcode op, Value* a, Value* c) {
    Type* t = a->getType();
    trap_if(b_.CreateICmpEQ(c, llvm::ConstantInt::get(t, 0)), TrapCode::kIntegerDivideByZero);
    llvm::Constant* minus_one = llvm::ConstantInt::getSigned(t, -1);
    llvm::Constant* min =
        llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(t->getIntegerBitWidth()));
    switch (op) {
      case Opcode::i32_div_s:
      case Opcode::i64_div_s:
        trap_if(b_.CreateAnd(b_.CreateICmpEQ(a, min), b_.CreateICmpEQ(c, minus_one)),
                TrapCode::kIntegerOverflow);
        return b_.CreateSDiv(a, c);
      case Opcode::i32_rem_s:
      case Opcode::i64_rem_s: {
        // x rem -1 is 0; srem would overflow for the minimum.
        Value* safe =
            b_.CreateSelect(b_.CreateICmpEQ(c, minus_one), llvm::ConstantInt::get(t, 1), c);
        return b_.CreateSRem(a, safe);
      }
      case Opcode::i32_div_u:
      case Opcode::i64_div_u:
        return b_.CreateUDiv(a, c);
      default:
        return b_.CreateURem(a, c);
    }
  }

  // A trapping float-to-int truncation: NaN is an invalid conversion, a
  // value outside (lo, hi) an overflow.
  Value* truncate(Value* x, Type* to, bool is_signed) {
    Type* ft = x->getType();
    bool f64 = ft->isDoubleTy();
    unsigned bits = to->getIntegerBitWidth();
    double lo, hi;
    if (is_signed) {
      hi = bits == 32 ? 2147483648.0 : 9223372036854775808.0;
      // The lower bound: -2^(n-1) is valid; the next value below may not be.
      lo = bits == 32 ? (f64 ? -2147483649.0 : -2147483904.0)
                      : (f64 ? -9223372036854777856.0 : -9223373136366403584.0);
    } else {
      hi = bits == 32 ? 4294967296.0 : 18446744073709551616.0;
      lo = -1.0;
    }
    trap_if(b_.CreateFCmpUNO(x, x), TrapCode::kInvalidConversion);
    Value* out = b_.CreateOr(b_.CreateFCmpOLE(x, llvm::ConstantFP::get(ft, lo)),
                             b_.CreateFCmpOGE(x, llvm::ConstantFP::get(ft, hi)));
    trap_if(out, TrapCode::kIntegerOverflow);
    return is_signed ? b_.CreateFPToSI(x, to) : b_.CreateFPToUI(x, to);
  }

  Value* numeric(Opcode op, const std::vector<Value*>& in) {
    using llvm::Intrinsic::ID;
    Value* a = in[0];
    Value* c = in.size() > 1 ? in[1] : nullptr;
    auto shift_count = [&](Value* v) {
      unsigned bits = v->getType()->getIntegerBitWidth();
      return b_.CreateAnd(v, llvm::ConstantInt::get(v->getType(), bits - 1));
    };
    switch (op) {
      case Opcode::i32_eqz:
      case Opcode::i64_eqz:
        return bool32(b_.CreateICmpEQ(a, llvm::ConstantInt::get(a->getType(), 0)));
      case Opcode::i32_eq:
      case Opcode::i64_eq:
        return bool32(b_.CreateICmpEQ(a, c));
      case Opcode::i32_ne:
      case Opcode::i64_ne:
        return bool32(b_.CreateICmpNE(a, c));
      case Opcode::i32_lt_s:
      case Opcode::i64_lt_s:
        return bool32(b_.CreateICmpSLT(a, c));
      case Opcode::i32_lt_u:
      case Opcode::i64_lt_u:
        return bool32(b_.CreateICmpULT(a, c));
      case Opcode::i32_gt_s:
      case Opcode::i64_gt_s:
        return bool32(b_.CreateICmpSGT(a, c));
      case Opcode::i32_gt_u:
      case Opcode::i64_gt_u:
        return bool32(b_.CreateICmpUGT(a, c));
      case Opcode::i32_le_s:
      case Opcode::i64_le_s:
        return bool32(b_.CreateICmpSLE(a, c));
      case Opcode::i32_le_u:
      case Opcode::i64_le_u:
        return bool32(b_.CreateICmpULE(a, c));
      case Opcode::i32_ge_s:
      case Opcode::i64_ge_s:
        return bool32(b_.CreateICmpSGE(a, c));
      case Opcode::i32_ge_u:
      case Opcode::i64_ge_u:
        return bool32(b_.CreateICmpUGE(a, c));
      case Opcode::f32_eq:
      case Opcode::f64_eq:
        return bool32(b_.CreateFCmpOEQ(a, c));
      case Opcode::f32_ne:
      case Opcode::f64_ne:
        return bool32(b_.CreateFCmpUNE(a, c));
      case Opcode::f32_lt:
      case Opcode::f64_lt:
        return bool32(b_.CreateFCmpOLT(a, c));
      case Opcode::f32_gt:
      case Opcode::f64_gt:
        return bool32(b_.CreateFCmpOGT(a, c));
      case Opcode::f32_le:
      case Opcode::f64_le:
        return bool32(b_.CreateFCmpOLE(a, c));
      case Opcode::f32_ge:
      case Opcode::f64_ge:
        return bool32(b_.CreateFCmpOGE(a, c));
      case Opcode::i32_clz:
      case Opcode::i64_clz:
        return intrinsic(llvm::Intrinsic::ctlz, {a->getType()}, {a, b_.getFalse()});
      case Opcode::i32_ctz:
      case Opcode::i64_ctz:
        return intrinsic(llvm::Intrinsic::cttz, {a->getType()}, {a, b_.getFalse()});
      case Opcode::i32_popcnt:
      case Opcode::i64_popcnt:
        return intrinsic(llvm::Intrinsic::ctpop, {a->getType()}, {a});
      case Opcode::i32_add:
      case Opcode::i64_add:
        return b_.CreateAdd(a, c);
      case Opcode::i32_sub:
      case Opcode::i64_sub:
        return b_.CreateSub(a, c);
      case Opcode::i32_mul:
      case Opcode::i64_mul:
        return b_.CreateMul(a, c);
      case Opcode::i32_div_s:
      case Opcode::i32_div_u:
      case Opcode::i32_rem_s:
      case Opcode::i32_rem_u:
      case Opcode::i64_div_s:
      case Opcode::i64_div_u:
      case Opcode::i64_rem_s:
      case Opcode::i64_rem_u:
        return divide(op, a, c);
      case Opcode::i32_and:
      case Opcode::i64_and:
        return b_.CreateAnd(a, c);
      case Opcode::i32_or:
      case Opcode::i64_or:
        return b_.CreateOr(a, c);
      case Opcode::i32_xor:
      case Opcode::i64_xor:
        return b_.CreateXor(a, c);
      case Opcode::i32_shl:
      case Opcode::i64_shl:
        return b_.CreateShl(a, shift_count(c));
      case Opcode::i32_shr_s:
      case Opcode::i64_shr_s:
        return b_.CreateAShr(a, shift_count(c));
      case Opcode::i32_shr_u:
      case Opcode::i64_shr_u:
        return b_.CreateLShr(a, shift_count(c));
      case Opcode::i32_rotl:
      case Opcode::i64_rotl:
        return intrinsic(llvm::Intrinsic::fshl, {a->getType()}, {a, a, c});
      case Opcode::i32_rotr:
      case Opcode::i64_rotr:
        return intrinsic(llvm::Intrinsic::fshr, {a->getType()}, {a, a, c});
      case Opcode::f32_abs:
      case Opcode::f64_abs:
        return intrinsic(llvm::Intrinsic::fabs, {a->getType()}, {a});
      case Opcode::f32_neg:
      case Opcode::f64_neg:
        return b_.CreateFNeg(a);
      case Opcode::f32_ceil:
      case Opcode::f64_ceil:
        return intrinsic(llvm::Intrinsic::ceil, {a->getType()}, {a});
      case Opcode::f32_floor:
      case Opcode::f64_floor:
        return intrinsic(llvm::Intrinsic::floor, {a->getType()}, {a});
      case Opcode::f32_trunc:
      case Opcode::f64_trunc:
        return intrinsic(llvm::Intrinsic::trunc, {a->getType()}, {a});
      case Opcode::f32_nearest:
      case Opcode::f64_nearest:
        return intrinsic(llvm::Intrinsic::roundeven, {a->getType()}, {a});
      case Opcode::f32_sqrt:
      case Opcode::f64_sqrt:
        return intrinsic(llvm::Intrinsic::sqrt, {a->getType()}, {a});
      case Opcode::f32_add:
      case Opcode::f64_add:
        return quiet_if_folded(b_.CreateFAdd(a, c), a, c);
      case Opcode::f32_sub:
      case Opcode::f64_sub:
        return quiet_if_folded(b_.CreateFSub(a, c), a, c);
      case Opcode::f32_mul:
      case Opcode::f64_mul:
        return quiet_if_folded(b_.CreateFMul(a, c), a, c);
      case Opcode::f32_div:
      case Opcode::f64_div:
        return quiet_if_folded(b_.CreateFDiv(a, c), a, c);
      case Opcode::f32_min:
      case Opcode::f64_min:
        return wasm_min_max(b_, true, a, c);
      case Opcode::f32_max:
      case Opcode::f64_max:
        return wasm_min_max(b_, false, a, c);
      case Opcode::f32_copysign:
      case Opcode::f64_copysign:
        return intrinsic(llvm::Intrinsic::copysign, {a->getType()}, {a, c});
      case Opcode::i32_wrap_i64:
        return b_.CreateTrunc(a, m_.i32);
      case Opcode::i32_trunc_f32_s:
      case Opcode::i32_trunc_f64_s:
        return truncate(a, m_.i32, true);
      case Opcode::i32_trunc_f32_u:
      case Opcode::i32_trunc_f64_u:
        return truncate(a, m_.i32, false);
      case Opcode::i64_trunc_f32_s:
      case Opcode::i64_trunc_f64_s:
        return truncate(a, m_.i64, true);
      case Opcode::i64_trunc_f32_u:
      case Opcode::i64_trunc_f64_u:
        return truncate(a, m_.i64, false);
      case Opcode::i64_extend_i32_s:
        return b_.CreateSExt(a, m_.i64);
      case Opcode::i64_extend_i32_u:
        return b_.CreateZExt(a, m_.i64);
      case Opcode::f32_convert_i32_s:
      case Opcode::f32_convert_i64_s:
        return b_.CreateSIToFP(a, m_.f32);
      case Opcode::f32_convert_i32_u:
      case Opcode::f32_convert_i64_u:
        return b_.CreateUIToFP(a, m_.f32);
      case Opcode::f64_convert_i32_s:
      case Opcode::f64_convert_i64_s:
        return b_.CreateSIToFP(a, m_.f64);
      case Opcode::f64_convert_i32_u:
      case Opcode::f64_convert_i64_u:
        return b_.CreateUIToFP(a, m_.f64);
      case Opcode::f32_demote_f64:  // demote(promote(x)) folds to x
        return quiet(b_.CreateFPTrunc(a, m_.f32));
      case Opcode::f64_promote_f32:
        return b_.CreateFPExt(a, m_.f64);
      case Opcode::i32_reinterpret_f32:
        return b_.CreateBitCast(a, m_.i32);
      case Opcode::i64_reinterpret_f64:
        return b_.CreateBitCast(a, m_.i64);
      case Opcode::f32_reinterpret_i32:
        return b_.CreateBitCast(a, m_.f32);
      case Opcode::f64_reinterpret_i64:
        return b_.CreateBitCast(a, m_.f64);
      case Opcode::i32_extend8_s:
        return b_.CreateSExt(b_.CreateTrunc(a, m_.i8), m_.i32);
      case Opcode::i32_extend16_s:
        return b_.CreateSExt(b_.CreateTrunc(a, b_.getInt16Ty()), m_.i32);
      case Opcode::i64_extend8_s:
        return b_.CreateSExt(b_.CreateTrunc(a, m_.i8), m_.i64);
      case Opcode::i64_extend16_s:
        return b_.CreateSExt(b_.CreateTrunc(a, b_.getInt16Ty()), m_.i64);
      case Opcode::i64_extend32_s:
        return b_.CreateSExt(b_.CreateTrunc(a, m_.i32), m_.i64);
      case Opcode::i32_trunc_sat_f32_s:
      case Opcode::i32_trunc_sat_f64_s:
        return intrinsic(llvm::Intrinsic::fptosi_sat, {m_.i32, a->getType()}, {a});
      case Opcode::i32_trunc_sat_f32_u:
      case Opcode::i32_trunc_sat_f64_u:
        return intrinsic(llvm::Intrinsic::fptoui_sat, {m_.i32, a->getType()}, {a});
      case Opcode::i64_trunc_sat_f32_s:
      case Opcode::i64_trunc_sat_f64_s:
        return intrinsic(llvm::Intrinsic::fptosi_sat, {m_.i64, a->getType()}, {a});
      case Opcode::i64_trunc_sat_f32_u:
      case Opcode::i64_trunc_sat_f64_u:
        return intrinsic(llvm::Intrinsic::fptoui_sat, {m_.i64, a->getType()}, {a});
      default:
        return nullptr;
    }
  }

  ModuleGen& m_;
  IRBuilder<> b_;
  uint32_t def_index_;
  uint32_t func_index_;
  const FuncType& type_;
  llvm::Function* fn_;
  SimdGen simd_;
  Value* ctx_ = nullptr;
  Value* run_ = nullptr;
  Value* memory_ = nullptr;
  llvm::AllocaInst* fuel_ = nullptr;
  llvm::AllocaInst* slots_ = nullptr;
  uint32_t slots_size_ = 0;
  std::vector<llvm::AllocaInst*> locals_;
  std::vector<ValType> local_types_;
  std::vector<Value*> stack_;
  std::vector<Ctl> ctls_;
  std::unordered_map<int, BasicBlock*> traps_;
  uint64_t pending_ = 0;
  uint64_t since_check_ = 0;
  std::string error_;
  ErrorCode error_code_ = ErrorCode::kLimit;
};

}  // namespace

Result<std::unique_ptr<llvm::Module>> build_module(const internal::ModuleData& md,
                                                   llvm::LLVMContext& context,
                                                   const std::string& stack_register) {
  auto mod = std::make_unique<llvm::Module>("wasm", context);
  ModuleGen m(md, context, *mod);
  m.stack_register = stack_register;
  const ModuleIR& ir = md.ir;
  uint32_t defined = static_cast<uint32_t>(ir.bodies.size());
  for (uint32_t i = 0; i < defined; ++i) {
    const FuncType& ft = ir.func_type(ir.num_imported_funcs + i);
    auto* f = llvm::Function::Create(m.function_type(ft), llvm::GlobalValue::InternalLinkage,
                                     "f" + std::to_string(ir.num_imported_funcs + i), *mod);
    f->setCallingConv(llvm::CallingConv::Fast);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    m.funcs.push_back(f);
  }
  for (uint32_t i = 0; i < defined; ++i) {
    FunctionGen gen(m, i);
    gen.begin();
    Status s = validate_body(ir, i, gen);
    if (!s) {
      return s.error();
    }
  }
  std::vector<llvm::Constant*> entries, tramps;
  for (uint32_t i = 0; i < defined; ++i) {
    entries.push_back(m.funcs[i]);
    tramps.push_back(m.trampoline(ir.func_types[ir.num_imported_funcs + i]));
  }
  auto* array_type = llvm::ArrayType::get(m.ptr, defined);
  new llvm::GlobalVariable(*mod, array_type, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantArray::get(array_type, entries), kFuncsSymbol);
  new llvm::GlobalVariable(*mod, array_type, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantArray::get(array_type, tramps), kTrampsSymbol);
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(*mod, &os)) {
    return Error("the compiled tier built invalid IR (an engine bug): " + os.str().substr(0, 2000),
                 static_cast<int>(ErrorCode::kUsage));
  }
  return mod;
}

}  // namespace rusm::wasm::llvm_tier
