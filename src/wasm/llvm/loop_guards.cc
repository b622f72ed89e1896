// Loop versioning for the compiled tier's guards (loop_guards.h).
#include "wasm/llvm/loop_guards.h"

#include <llvm/Analysis/AssumptionCache.h>
#include <llvm/Analysis/LoopInfo.h>
#include <llvm/Analysis/ScalarEvolution.h>
#include <llvm/Analysis/ScalarEvolutionExpressions.h>
#include <llvm/IR/Dominators.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PatternMatch.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/Local.h>
#include <llvm/Transforms/Utils/LoopSimplify.h>
#include <llvm/Transforms/Utils/LoopUtils.h>
#include <llvm/Transforms/Utils/ScalarEvolutionExpander.h>
#include <llvm/Transforms/Utils/ValueMapper.h>

#include <optional>
#include <set>
#include <vector>

namespace rusm::wasm::llvm_tier {
namespace {

using llvm::APInt;
using llvm::BasicBlock;
using llvm::BranchInst;
using llvm::Instruction;
using llvm::Loop;
using llvm::SCEV;
using llvm::Value;
namespace pm = llvm::PatternMatch;

// Loops bigger than this are left alone: the copy doubles their code, and
// the loops that gain (the ones a vectorizer can take) are small.
constexpr unsigned kMaxLoopInstructions = 400;
// Bounds on the tracked values so that 128-bit arithmetic cannot overflow.
constexpr unsigned kMaxTrackedBits = 120;
constexpr unsigned kMaxStepBits = 33;

// A value of the loop as an exact integer (128 bits) at the first and the
// last iteration, linear in between. The machine value is the exact one
// modulo 2^width; `bits` bounds the exact one's magnitude.
struct Linear {
  Value* first;
  Value* last;
  unsigned bits;
};

// A guard branch and the successor it must never take.
struct Guard {
  BranchInst* br;
  unsigned bad;  // successor index
};

// The bytes a store of the loop can write: [first, last] (i64), and the
// memory's base (the dirty map is below it).
struct Mark {
  Value* first;
  Value* last;
  Value* base;
};

// A 32-bit address induction the guarded copy computes in 64 bits: the
// proof showed it never wraps, so `zext` of it is {first, +, step} in i64,
// which LLVM's vectorizer sees as consecutive (a zext of an i32 recurrence
// that may wrap makes it gather and scatter).
struct Widened {
  llvm::ZExtInst* zext;
  Value* first;  // i64, in the preheader
  int64_t step;
};

// A loop that is worth a guarded copy, with what the copy needs.
struct Candidate {
  Loop* loop;
  Value* proven;  // i1 in the preheader: every guard holds
  std::vector<Guard> guards;
  std::vector<Mark> marks;
  std::vector<Widened> widened;
};

bool calls(const BasicBlock& bb, llvm::StringRef name) {
  for (const Instruction& i : bb) {
    if (const auto* call = llvm::dyn_cast<llvm::CallInst>(&i)) {
      const llvm::Function* f = call->getCalledFunction();
      if (f != nullptr && f->getName() == name) {
        return true;
      }
    }
  }
  return false;
}

// A block outside the loop that only leads to a trap (through the loop's
// dedicated exit blocks, which just branch on).
bool leads_to_trap(const Loop& loop, const BasicBlock* bb) {
  for (int hops = 0; hops < 4 && !loop.contains(bb); ++hops) {
    const Instruction* end = bb->getTerminator();
    if (llvm::isa<llvm::UnreachableInst>(end)) {
      return true;
    }
    const BasicBlock* next = bb->getSingleSuccessor();
    if (next == nullptr || bb->size() != 1 + static_cast<size_t>(std::distance(bb->phis().begin(),
                                                                               bb->phis().end()))) {
      return false;
    }
    bb = next;
  }
  return false;
}

bool has_tbaa(const Instruction& i, llvm::StringRef type_name) {
  const llvm::MDNode* tag = i.getMetadata(llvm::LLVMContext::MD_tbaa);
  if (tag == nullptr || tag->getNumOperands() < 2) {
    return false;
  }
  const auto* type = llvm::dyn_cast<llvm::MDNode>(tag->getOperand(1));
  if (type == nullptr || type->getNumOperands() < 1) {
    return false;
  }
  const auto* name = llvm::dyn_cast<llvm::MDString>(type->getOperand(0));
  return name != nullptr && name->getString() == type_name;
}

// Proves one loop's guards; the checks it needs go before the preheader's
// terminator.
class Prover {
 public:
  Prover(Loop& loop, llvm::ScalarEvolution& se, const llvm::DataLayout& dl)
      : loop_(loop),
        se_(se),
        expander_(se, dl, "guard"),
        at_(loop.getLoopPreheader()->getTerminator()),
        b_(at_),
        i128_(b_.getInt128Ty()) {}

  std::optional<Candidate> prove() {
    BasicBlock* latch = loop_.getLoopLatch();
    if (latch == nullptr) {
      return std::nullopt;
    }
    unsigned size = 0;
    for (BasicBlock* bb : loop_.blocks()) {
      size += static_cast<unsigned>(bb->size());
    }
    if (size > kMaxLoopInstructions) {
      return std::nullopt;
    }
    Candidate c{&loop_, nullptr, {}, {}};
    std::vector<Guard> traps;
    std::vector<Guard> fuel;
    std::vector<Guard> dirty;
    for (BasicBlock* bb : loop_.blocks()) {
      auto* br = llvm::dyn_cast<BranchInst>(bb->getTerminator());
      if (br == nullptr || !br->isConditional() || br->getSuccessor(0) == br->getSuccessor(1)) {
        continue;
      }
      for (unsigned s = 0; s < 2; ++s) {
        BasicBlock* to = br->getSuccessor(s);
        if (leads_to_trap(loop_, to)) {
          traps.push_back({br, s});
          break;
        }
        if (loop_.contains(to) && calls(*to, kOutOfFuelHelper)) {
          fuel.push_back({br, s});
          break;
        }
        if (s == 0 && loop_.contains(to) && is_dirty_mark(*br)) {
          dirty.push_back({br, 0});
          break;
        }
      }
    }
    if (traps.empty() && fuel.empty() && dirty.empty()) {
      return std::nullopt;
    }
    if (!trip_count(latch)) {
      return std::nullopt;
    }
    for (const Guard& g : traps) {
      if (!never(g.br->getCondition(), g.bad == 0)) {
        return std::nullopt;
      }
    }
    for (const Guard& g : fuel) {
      if (!enough_fuel(g)) {
        return std::nullopt;
      }
    }
    for (const Guard& g : dirty) {
      if (!mark_range(g, &c)) {
        return std::nullopt;
      }
    }
    widen(&c);
    c.guards = traps;
    c.guards.insert(c.guards.end(), fuel.begin(), fuel.end());
    c.guards.insert(c.guards.end(), dirty.begin(), dirty.end());
    Value* all = b_.getTrue();
    for (Value* v : conds_) {
      all = b_.CreateAnd(all, v);
    }
    c.proven = all;
    return c;
  }

 private:
  // Every zext of an i32 affine recurrence of the loop (the addresses of
  // Wasm memory accesses): proven not to wrap here, computed in 64 bits in
  // the guarded copy.
  void widen(Candidate* c) {
    for (BasicBlock* bb : loop_.blocks()) {
      for (Instruction& i : *bb) {
        auto* z = llvm::dyn_cast<llvm::ZExtInst>(&i);
        if (z == nullptr || !z->getType()->isIntegerTy(64) ||
            !z->getOperand(0)->getType()->isIntegerTy(32)) {
          continue;
        }
        const auto* ar = llvm::dyn_cast<llvm::SCEVAddRecExpr>(se_.getSCEV(z->getOperand(0)));
        if (ar == nullptr || ar->getLoop() != &loop_ || !ar->isAffine()) {
          continue;
        }
        const auto* step = llvm::dyn_cast<llvm::SCEVConstant>(ar->getStepRecurrence(se_));
        const SCEV* start = se_.getZeroExtendExpr(ar->getStart(), b_.getInt64Ty());
        if (step == nullptr || step->getAPInt().getSignificantBits() > 32 ||
            !expander_.isSafeToExpandAt(start, at_)) {
          continue;
        }
        std::optional<Linear> v = linear(ar);
        if (!v) {
          continue;
        }
        fits_unsigned(*v, 32);
        c->widened.push_back(Widened{z, expander_.expandCodeFor(start, b_.getInt64Ty(), at_),
                                     step->getAPInt().getSExtValue()});
      }
    }
  }

  // An upper bound on the backedges taken, from the exits that every
  // iteration passes (guards' exits only end a loop sooner).
  bool trip_count(BasicBlock* latch) {
    llvm::SmallVector<BasicBlock*, 4> exiting;
    loop_.getExitingBlocks(exiting);
    const SCEV* n = nullptr;
    llvm::DominatorTree& dt = dominators();
    for (BasicBlock* bb : exiting) {
      if (!dt.dominates(bb, latch)) {
        continue;
      }
      auto* br = llvm::dyn_cast<BranchInst>(bb->getTerminator());
      if (br == nullptr) {
        continue;
      }
      bool to_trap = false;
      for (BasicBlock* to : br->successors()) {
        to_trap |= leads_to_trap(loop_, to);
      }
      if (to_trap) {
        continue;
      }
      const SCEV* count = se_.getExitCount(&loop_, bb);
      if (llvm::isa<llvm::SCEVCouldNotCompute>(count)) {
        continue;
      }
      n = n == nullptr ? count : se_.getUMinFromMismatchedTypes(n, count);
    }
    if (n == nullptr || !n->getType()->isIntegerTy() || n->getType()->getIntegerBitWidth() > 64 ||
        !expander_.isSafeToExpandAt(n, at_)) {
      return false;
    }
    n_ = b_.CreateZExt(expander_.expandCodeFor(n, n->getType(), at_), i128_);
    conds_.push_back(b_.CreateICmpULT(n_, constant(APInt(128, 1).shl(32))));
    return true;
  }

  llvm::DominatorTree& dominators() { return *dt_; }

 public:
  void set_dominators(llvm::DominatorTree* dt) { dt_ = dt; }

 private:
  Value* constant(const APInt& v) { return llvm::ConstantInt::get(i128_, v); }
  Value* constant(int64_t v) { return llvm::ConstantInt::getSigned(i128_, v); }

  // first <= v < end at both ends (so everywhere in between: v is linear).
  void in_range(const Linear& v, const APInt& lo, const APInt& end) {
    for (Value* x : {v.first, v.last}) {
      conds_.push_back(b_.CreateICmpSGE(x, constant(lo)));
      conds_.push_back(b_.CreateICmpSLT(x, constant(end)));
    }
  }

  void fits_unsigned(const Linear& v, unsigned width) {
    in_range(v, APInt(128, 0), APInt(128, 1).shl(width));
  }
  void fits_signed(const Linear& v, unsigned width) {
    in_range(v, -APInt(128, 1).shl(width - 1), APInt(128, 1).shl(width - 1));
  }

  std::optional<Linear> linear(const SCEV* s) {
    if (!s->getType()->isIntegerTy() || s->getType()->getIntegerBitWidth() > 64) {
      return std::nullopt;
    }
    if (const auto* k = llvm::dyn_cast<llvm::SCEVConstant>(s)) {
      APInt v = k->getAPInt().sext(128);
      Value* c = constant(v);
      return Linear{c, c, v.getSignificantBits()};
    }
    if (se_.isLoopInvariant(s, &loop_)) {
      if (!expander_.isSafeToExpandAt(s, at_)) {
        return std::nullopt;
      }
      Value* v = b_.CreateZExt(expander_.expandCodeFor(s, s->getType(), at_), i128_);
      return Linear{v, v, s->getType()->getIntegerBitWidth() + 1};
    }
    if (const auto* ar = llvm::dyn_cast<llvm::SCEVAddRecExpr>(s)) {
      if (ar->getLoop() != &loop_ || !ar->isAffine()) {
        return std::nullopt;
      }
      const auto* step = llvm::dyn_cast<llvm::SCEVConstant>(ar->getStepRecurrence(se_));
      if (step == nullptr || step->getAPInt().getSignificantBits() > kMaxStepBits) {
        return std::nullopt;
      }
      std::optional<Linear> start = linear(ar->getStart());
      if (!start) {
        return std::nullopt;
      }
      Value* last =
          b_.CreateAdd(start->first, b_.CreateMul(constant(step->getAPInt().sext(128)), n_));
      unsigned bits = std::max(start->bits, kMaxStepBits + 33) + 1;
      return checked(Linear{start->first, last, bits});
    }
    if (const auto* add = llvm::dyn_cast<llvm::SCEVAddExpr>(s)) {
      std::optional<Linear> sum;
      for (const SCEV* op : add->operands()) {
        std::optional<Linear> v = linear(op);
        if (!v) {
          return std::nullopt;
        }
        sum = !sum ? *v
                   : Linear{b_.CreateAdd(sum->first, v->first), b_.CreateAdd(sum->last, v->last),
                            std::max(sum->bits, v->bits) + 1};
      }
      return checked(*sum);
    }
    if (const auto* mul = llvm::dyn_cast<llvm::SCEVMulExpr>(s)) {
      if (mul->getNumOperands() != 2) {
        return std::nullopt;
      }
      const auto* k = llvm::dyn_cast<llvm::SCEVConstant>(mul->getOperand(0));
      std::optional<Linear> v = linear(mul->getOperand(1));
      if (k == nullptr || !v) {
        return std::nullopt;
      }
      APInt c = k->getAPInt().sext(128);
      return checked(Linear{b_.CreateMul(constant(c), v->first), b_.CreateMul(constant(c), v->last),
                            v->bits + c.getSignificantBits()});
    }
    if (const auto* z = llvm::dyn_cast<llvm::SCEVZeroExtendExpr>(s)) {
      std::optional<Linear> v = linear(z->getOperand());
      if (!v) {
        return std::nullopt;
      }
      fits_unsigned(*v, z->getOperand()->getType()->getIntegerBitWidth());
      return v;
    }
    if (const auto* x = llvm::dyn_cast<llvm::SCEVSignExtendExpr>(s)) {
      std::optional<Linear> v = linear(x->getOperand());
      if (!v) {
        return std::nullopt;
      }
      fits_signed(*v, x->getOperand()->getType()->getIntegerBitWidth());
      return v;
    }
    if (const auto* t = llvm::dyn_cast<llvm::SCEVTruncateExpr>(s)) {
      // The exact value stays congruent modulo the narrower width.
      return linear(t->getOperand());
    }
    return std::nullopt;
  }

  std::optional<Linear> checked(const Linear& v) {
    if (v.bits > kMaxTrackedBits) {
      return std::nullopt;
    }
    return v;
  }

  // Adds the checks that make `cond` differ from `bad` at every iteration.
  bool never(Value* cond, bool bad) {
    auto* inst = llvm::dyn_cast<Instruction>(cond);
    if (inst == nullptr || !loop_.contains(inst)) {
      conds_.push_back(bad ? b_.CreateNot(cond) : cond);
      return true;
    }
    Value* x = nullptr;
    Value* y = nullptr;
    if (bad && pm::match(cond, pm::m_LogicalOr(pm::m_Value(x), pm::m_Value(y)))) {
      return never(x, true) && never(y, true);
    }
    if (!bad && pm::match(cond, pm::m_LogicalAnd(pm::m_Value(x), pm::m_Value(y)))) {
      return never(x, false) && never(y, false);
    }
    if (pm::match(cond, pm::m_Not(pm::m_Value(x)))) {
      return never(x, !bad);
    }
    auto* cmp = llvm::dyn_cast<llvm::ICmpInst>(cond);
    if (cmp == nullptr || cmp->isEquality() || !cmp->getOperand(0)->getType()->isIntegerTy()) {
      return false;
    }
    // The predicate that must hold at every iteration.
    llvm::CmpInst::Predicate must = bad ? cmp->getInversePredicate() : cmp->getPredicate();
    std::optional<Linear> l = linear(se_.getSCEV(cmp->getOperand(0)));
    std::optional<Linear> r = linear(se_.getSCEV(cmp->getOperand(1)));
    if (!l || !r) {
      return false;
    }
    unsigned width = cmp->getOperand(0)->getType()->getIntegerBitWidth();
    bool is_signed = llvm::CmpInst::isSigned(must);
    for (const Linear* v : {&*l, &*r}) {
      is_signed ? fits_signed(*v, width) : fits_unsigned(*v, width);
    }
    // Both sides are exact and linear, so is their difference: the
    // predicate holds everywhere if it holds at both ends.
    llvm::CmpInst::Predicate exact =
        llvm::CmpInst::isUnsigned(must) ? llvm::CmpInst::getSignedPredicate(must) : must;
    conds_.push_back(b_.CreateICmp(exact, l->first, r->first));
    conds_.push_back(b_.CreateICmp(exact, l->last, r->last));
    return true;
  }

  // fuel < 0 never holds if the counter at entry pays for every iteration at
  // the most one iteration charges (every charge of the loop body).
  bool enough_fuel(const Guard& g) {
    Value* counter = nullptr;
    if (g.bad != 0 ||
        !pm::match(g.br->getCondition(), pm::m_SpecificICmp(llvm::ICmpInst::ICMP_SLT,
                                                            pm::m_Value(counter), pm::m_Zero()))) {
      return false;
    }
    std::vector<Value*> work{counter};
    std::set<Value*> seen;
    Value* entry = nullptr;
    APInt charge(128, 0);
    while (!work.empty()) {
      Value* v = work.back();
      work.pop_back();
      if (!seen.insert(v).second) {
        continue;
      }
      auto* i = llvm::dyn_cast<Instruction>(v);
      if (i == nullptr || !loop_.contains(i)) {
        if (entry != nullptr && entry != v) {
          return false;
        }
        entry = v;
        continue;
      }
      if (auto* phi = llvm::dyn_cast<llvm::PHINode>(i)) {
        for (Value* in : phi->incoming_values()) {
          work.push_back(in);
        }
        continue;
      }
      const APInt* k = nullptr;
      if (pm::match(i, pm::m_Add(pm::m_Value(v), pm::m_APInt(k))) && k->isNegative() &&
          k->getSignificantBits() <= 32) {
        charge -= k->sext(128);
        work.push_back(v);
        continue;
      }
      auto* call = llvm::dyn_cast<llvm::CallInst>(i);
      if (call != nullptr && call->getCalledFunction() != nullptr &&
          call->getCalledFunction()->getName() == kOutOfFuelHelper) {
        continue;  // the refill: not in the guarded copy
      }
      return false;
    }
    if (entry == nullptr || !entry->getType()->isIntegerTy(64)) {
      return false;
    }
    Value* need = b_.CreateMul(constant(charge), b_.CreateAdd(n_, constant(1)));
    conds_.push_back(b_.CreateICmpSGE(b_.CreateSExt(entry, i128_), need));
    return true;
  }

  // The compiled store's mark (codegen.cc, mark_dirty): if base[~(ea >> 8)]
  // is 0, set it and count it.
  bool is_dirty_mark(const BranchInst& br) const {
    Value* mark = nullptr;
    if (!pm::match(br.getCondition(),
                   pm::m_SpecificICmp(llvm::ICmpInst::ICMP_EQ, pm::m_Value(mark), pm::m_Zero()))) {
      return false;
    }
    auto* load = llvm::dyn_cast<llvm::LoadInst>(mark);
    if (load == nullptr || !has_tbaa(*load, "dirty map")) {
      return false;
    }
    // The cold block: the mark's store, the count's update, back.
    const BasicBlock* first = br.getSuccessor(0);
    for (const Instruction& i : *first) {
      if (const auto* st = llvm::dyn_cast<llvm::StoreInst>(&i)) {
        if (!has_tbaa(*st, "dirty map") && !has_tbaa(*st, "dirty count")) {
          return false;
        }
      } else if (const auto* ld = llvm::dyn_cast<llvm::LoadInst>(&i)) {
        if (!has_tbaa(*ld, "dirty count")) {
          return false;
        }
      } else if (i.mayHaveSideEffects()) {
        return false;
      }
    }
    return first->getSingleSuccessor() == br.getSuccessor(1);
  }

  bool mark_range(const Guard& g, Candidate* c) {
    auto* load =
        llvm::cast<llvm::LoadInst>(llvm::cast<llvm::ICmpInst>(g.br->getCondition())->getOperand(0));
    auto* gep = llvm::dyn_cast<llvm::GetElementPtrInst>(load->getPointerOperand());
    Value* ea = nullptr;
    if (gep == nullptr || gep->getNumIndices() != 1 ||
        !pm::match(gep->getOperand(1),
                   pm::m_Not(pm::m_LShr(pm::m_Value(ea), pm::m_SpecificInt(8))))) {
      return false;
    }
    Value* base = gep->getPointerOperand();
    auto* def = llvm::dyn_cast<Instruction>(base);
    if (def != nullptr && loop_.contains(def)) {
      return false;
    }
    std::optional<Linear> v = linear(se_.getSCEV(ea));
    if (!v) {
      return false;
    }
    fits_unsigned(*v, 63);
    Value* lo = b_.CreateSelect(b_.CreateICmpSLT(v->first, v->last), v->first, v->last);
    Value* hi = b_.CreateSelect(b_.CreateICmpSLT(v->first, v->last), v->last, v->first);
    c->marks.push_back(
        Mark{b_.CreateTrunc(lo, b_.getInt64Ty()), b_.CreateTrunc(hi, b_.getInt64Ty()), base});
    return true;
  }

  Loop& loop_;
  llvm::ScalarEvolution& se_;
  llvm::SCEVExpander expander_;
  Instruction* at_;
  llvm::IRBuilder<> b_;
  llvm::IntegerType* i128_;
  llvm::DominatorTree* dt_ = nullptr;
  Value* n_ = nullptr;  // i128: the most backedges the loop takes
  std::vector<Value*> conds_;
};

// Makes the guarded copy: the preheader branches on `proven` to the loop,
// now without its guards, or to a copy of the loop as it was.
void version(const Candidate& c, llvm::Function& f, llvm::DominatorTree& dt, llvm::LoopInfo& li) {
  Loop* loop = c.loop;
  BasicBlock* check = loop->getLoopPreheader();
  BasicBlock* ph = llvm::SplitBlock(check, check->getTerminator(), &dt, &li, nullptr,
                                    loop->getHeader()->getName() + ".guarded");
  llvm::ValueToValueMapTy map;
  llvm::SmallVector<BasicBlock*, 16> blocks;
  Loop* checked = llvm::cloneLoopWithPreheader(ph, check, loop, map, ".checked", &li, &dt, blocks);
  llvm::remapInstructionsInBlocks(blocks, map);

  // The loops' exits are shared: each exit's phis take the copy's values too.
  llvm::SmallVector<BasicBlock*, 4> exits;
  loop->getUniqueExitBlocks(exits);
  for (BasicBlock* exit : exits) {
    for (llvm::PHINode& phi : exit->phis()) {
      unsigned n = phi.getNumIncomingValues();
      for (unsigned i = 0; i < n; ++i) {
        BasicBlock* from = phi.getIncomingBlock(i);
        if (!loop->contains(from)) {
          continue;
        }
        Value* v = phi.getIncomingValue(i);
        auto it = map.find(v);
        phi.addIncoming(it != map.end() ? static_cast<Value*>(it->second) : v,
                        llvm::cast<BasicBlock>(map[from]));
      }
    }
  }

  llvm::IRBuilder<> b(check->getTerminator());
  b.CreateCondBr(c.proven, ph, checked->getLoopPreheader());
  check->getTerminator()->eraseFromParent();

  b.SetInsertPoint(ph->getTerminator());
  llvm::Module& m = *f.getParent();
  llvm::FunctionCallee mark = m.getOrInsertFunction(kMarkRangeHelper, b.getVoidTy(), b.getPtrTy(),
                                                    b.getInt64Ty(), b.getInt64Ty());
  if (auto* fn = llvm::dyn_cast<llvm::Function>(mark.getCallee())) {
    fn->addFnAttr(llvm::Attribute::NoUnwind);
  }
  for (const Mark& r : c.marks) {
    // Most ranges are a chunk or two, marked already: test those marks here
    // and call the helper only for a longer range or a clear mark.
    Value* first = b.CreateLShr(r.first, 8);
    Value* last = b.CreateLShr(r.last, 8);
    auto mark_of = [&](Value* chunk) {
      llvm::LoadInst* m =
          b.CreateLoad(b.getInt8Ty(), b.CreateGEP(b.getInt8Ty(), r.base, b.CreateNot(chunk)));
      return b.CreateICmpNE(m, b.getInt8(0));
    };
    Value* done = b.CreateAnd(b.CreateICmpULE(b.CreateSub(last, first), b.getInt64(1)),
                              b.CreateAnd(mark_of(first), mark_of(last)));
    Instruction* call_at = llvm::SplitBlockAndInsertIfThen(b.CreateNot(done), b.GetInsertPoint(),
                                                           false, nullptr, nullptr, &li);
    llvm::IRBuilder<> cb(call_at);
    cb.CreateCall(mark, {f.getArg(0), r.first, r.last});
    b.SetInsertPoint(loop->getLoopPreheader()->getTerminator());
  }

  // The widened inductions: a phi in the header, stepped in the latch.
  BasicBlock* header = loop->getHeader();
  BasicBlock* latch = loop->getLoopLatch();
  for (const Widened& w : c.widened) {
    llvm::PHINode* phi = llvm::PHINode::Create(b.getInt64Ty(), 2, "addr64");
    phi->insertBefore(header->getFirstNonPHIIt());
    llvm::IRBuilder<> lb(latch->getTerminator());
    // No wrap either way: the values stay in [0, 2^32] (nuw only for a
    // positive step: adding -1 is an unsigned wrap).
    Value* next = lb.CreateAdd(phi, lb.getInt64(w.step), "addr64.next", w.step >= 0, true);
    phi->addIncoming(w.first, loop->getLoopPreheader());
    phi->addIncoming(next, latch);
    w.zext->replaceAllUsesWith(phi);
  }

  for (const Guard& g : c.guards) {
    BasicBlock* from = g.br->getParent();
    BasicBlock* bad = g.br->getSuccessor(g.bad);
    BasicBlock* good = g.br->getSuccessor(1 - g.bad);
    bad->removePredecessor(from);
    BranchInst::Create(good, g.br);
    g.br->eraseFromParent();
  }
  dt.recalculate(f);
}

}  // namespace

llvm::PreservedAnalyses VersionGuardedLoops::run(llvm::Function& f,
                                                 llvm::FunctionAnalysisManager& fam) {
  auto& li = fam.getResult<llvm::LoopAnalysis>(f);
  if (li.empty()) {
    return llvm::PreservedAnalyses::all();
  }
  auto& dt = fam.getResult<llvm::DominatorTreeAnalysis>(f);
  auto& se = fam.getResult<llvm::ScalarEvolutionAnalysis>(f);
  auto& ac = fam.getResult<llvm::AssumptionAnalysis>(f);
  const llvm::DataLayout& dl = f.getDataLayout();

  std::vector<Loop*> innermost;
  for (Loop* top : li) {
    std::vector<Loop*> work{top};
    while (!work.empty()) {
      Loop* l = work.back();
      work.pop_back();
      if (l->isInnermost()) {
        innermost.push_back(l);
      }
      work.insert(work.end(), l->begin(), l->end());
    }
  }

  // Every loop in shape first (a preheader, LCSSA), then the proofs, which
  // only add instructions to preheaders, then the copies.
  bool changed = false;
  for (Loop* l : innermost) {
    if (l->getLoopPreheader() == nullptr || !l->hasDedicatedExits()) {
      changed |= llvm::simplifyLoop(l, &dt, &li, &se, &ac, nullptr, false);
    }
    if (l->getLoopPreheader() != nullptr) {
      changed |= llvm::formLCSSA(*l, dt, &li, &se);
    }
  }
  std::vector<Candidate> candidates;
  for (Loop* l : innermost) {
    if (l->getLoopPreheader() == nullptr) {
      continue;
    }
    Prover p(*l, se, dl);
    p.set_dominators(&dt);
    if (std::optional<Candidate> c = p.prove()) {
      candidates.push_back(*c);
    }
    changed = true;  // the prover's checks (dead unless used)
  }
  for (const Candidate& c : candidates) {
    version(c, f, dt, li);
  }
  if (!candidates.empty()) {
    llvm::removeUnreachableBlocks(f);
  }
  return changed ? llvm::PreservedAnalyses::none() : llvm::PreservedAnalyses::all();
}

}  // namespace rusm::wasm::llvm_tier
