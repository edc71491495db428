//! The semantic model of one scope (a function, lambda, class body or the
//! module), built once and read by every rule: which names it binds and
//! how (assignment, walrus, loop, `with`, import, parameter, `del`, ...),
//! which names it reads and what each read does with the value (a method
//! call, an argument, returned, stored, captured by a nested function), the
//! `try` clauses around each, its `return` and `raise` exits, and per read
//! the bindings that may reach it along the scope's control flow.
//!
//! The reaching bindings come from one pass over the scope's statements in
//! order (a may-analysis over a bit set of binding ids): branches join,
//! loops run to a fixed point, an exception anywhere in a `try` body may
//! reach its handlers and its `finally`, and `return`/`raise`/`break`/
//! `continue` reach the `finally` clauses they leave. Where it cannot be
//! exact it errs towards "may reach": every rule's use of it stays safe
//! that way (a release guarded by `hasattr` on a connection that is not
//! tracked does nothing; an engine that may be used later is not disposed).
//!
//! A read inside a nested function or lambda is `Captured`: it may run at
//! any time later, so every binding of the name in this scope may reach it.
//! Comprehensions are read as part of the scope.
//!
//! Models are built lazily, per scope, the first time a rule asks
//! (`Semantic::scope`), and shared by the rules of one pass over a file.

use std::cell::RefCell;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use tree_sitter::Node;

use crate::source::SourceFile;
use crate::syntax::{self, FIELDS, FieldChild, KindName, text};

/// A map keyed by node ids and names, hashed the way rustc's FxHash does:
/// the model hashes a key at every identifier, and SipHash, std's default,
/// made that most of what building a model cost.
type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type BindingId = u32;
pub type GuardId = u32;

/// How a binding binds its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    Param,
    Assign,
    AugAssign,
    Walrus,
    Loop,
    With,
    Import,
    Def,
    Except,
    Del,
}

#[derive(Debug, Clone)]
pub struct Binding<'t> {
    pub name: &'t [u8],
    pub kind: BindingKind,
    /// The identifier bound (the statement, for imports and definitions
    /// without one).
    pub ident: Node<'t>,
    /// The statement of this scope that holds the binding.
    pub statement: Node<'t>,
    /// The value bound, when the whole target is the plain name:
    /// `name = value`, `a = name = value`, `(name := value)`.
    pub value: Option<Node<'t>>,
    pub guard: Option<GuardId>,
    /// Whether some path reaches the binding (not after a `return`,
    /// `raise`, `break` or `continue` in its block).
    pub reachable: bool,
}

/// What a read of a name does with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role<'t> {
    /// `name.method(...)`; `statement`: the call (or its `await`) is a whole
    /// expression statement.
    MethodCall {
        method: &'t [u8],
        call: Node<'t>,
        statement: bool,
    },
    /// `name.attribute`, not called.
    Attribute,
    /// Handed to a call, by position or keyword.
    Argument {
        call: Node<'t>,
    },
    Returned,
    Yielded,
    /// The value of an assignment: to an attribute or item (`x.y = name`),
    /// or to another name (an alias).
    Stored,
    /// An element of a list, tuple, set or dict display.
    Contained,
    /// `with name:` or `with name as x:`.
    WithItem,
    /// Read inside a nested function, lambda or class: it may run at any
    /// time later.
    Captured,
    Other,
}

#[derive(Debug, Clone)]
pub struct Reference<'t> {
    pub name: &'t [u8],
    pub ident: Node<'t>,
    pub role: Role<'t>,
    /// The statement of this scope that holds the read (for a read in a
    /// nested scope: the statement that holds that scope).
    pub statement: Node<'t>,
    pub guard: Option<GuardId>,
    /// The bindings of this scope that may reach the read, in id order.
    pub reaching: Reaching,
}

/// Binding ids, in a slice (`Deref`): most reads are reached by one or
/// two bindings, held inline, so that a read allocates nothing (the model
/// builder keeps each name's bindings the same way).
#[derive(Clone, Default)]
pub struct Reaching {
    len: u32,
    inline: [BindingId; 3],
    /// All the ids, once there are more than fit inline.
    heap: Vec<BindingId>,
}

impl std::ops::Deref for Reaching {
    type Target = [BindingId];

    fn deref(&self) -> &[BindingId] {
        match self.len as usize {
            len if len <= self.inline.len() => &self.inline[..len],
            _ => &self.heap,
        }
    }
}

impl std::ops::DerefMut for Reaching {
    fn deref_mut(&mut self) -> &mut [BindingId] {
        match self.len as usize {
            len if len <= self.inline.len() => &mut self.inline[..len],
            _ => &mut self.heap,
        }
    }
}

impl std::fmt::Debug for Reaching {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Reaching {
    fn push(&mut self, id: BindingId) {
        let len = self.len as usize;
        if len < self.inline.len() {
            self.inline[len] = id;
        } else {
            if len == self.inline.len() {
                self.heap.clear();
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(id);
        }
        self.len += 1;
    }

    fn from_slice(ids: &[BindingId]) -> Reaching {
        let mut out = Reaching::default();
        for id in ids {
            out.push(*id);
        }
        out
    }

    /// Sort, and drop repeated ids.
    fn sort_dedup(&mut self) {
        if self.len < 2 {
            return;
        }
        self.sort_unstable();
        let ids = &mut **self;
        let mut kept = 1;
        for i in 1..ids.len() {
            if ids[i] != ids[kept - 1] {
                ids[kept] = ids[i];
                kept += 1;
            }
        }
        if kept <= self.inline.len() && self.len as usize > self.inline.len() {
            let n = self.inline.len();
            self.inline.copy_from_slice(&self.heap[..n]);
            self.heap.clear();
        } else if kept > self.inline.len() {
            self.heap.truncate(kept);
        }
        self.len = kept as u32;
    }
}

/// Which clause of a `try` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clause {
    Body,
    Except,
    Else,
    Finally,
}

/// One clause of a `try` around part of the scope.
#[derive(Debug, Clone)]
pub struct Guard<'t> {
    pub try_statement: Node<'t>,
    pub clause: Clause,
    /// The clause around this `try`, if any.
    pub parent: Option<GuardId>,
    /// Whether the `try` has `except` clauses.
    pub handlers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Return,
    Raise,
}

/// A `return` or `raise` of the scope.
#[derive(Debug, Clone)]
pub struct Exit<'t> {
    pub node: Node<'t>,
    pub kind: ExitKind,
    pub guard: Option<GuardId>,
}

/// One scope's names, reads, `try` clauses and exits.
#[derive(Debug)]
pub struct ScopeModel<'t> {
    pub node: Node<'t>,
    pub bindings: Vec<Binding<'t>>,
    pub references: Vec<Reference<'t>>,
    pub guards: Vec<Guard<'t>>,
    pub exits: Vec<Exit<'t>>,
    /// Names declared `global` or `nonlocal` in the scope.
    pub declared: Vec<&'t [u8]>,
    /// Binding and read ids by the node id of their identifier.
    binding_at: HashMap<usize, BindingId>,
    reference_at: HashMap<usize, usize>,
}

impl<'t> ScopeModel<'t> {
    /// The binding made at this identifier, if any.
    pub fn binding_at(&self, ident: Node) -> Option<BindingId> {
        self.binding_at.get(&ident.id()).copied()
    }

    /// The reads that binding `b` may reach.
    pub fn uses(&self, b: BindingId) -> impl Iterator<Item = &Reference<'t>> {
        self.references
            .iter()
            .filter(move |r| r.reaching.binary_search(&b).is_ok())
    }

    /// The bindings of `name` in the scope.
    pub fn bindings_of<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = BindingId> + 's {
        self.bindings
            .iter()
            .enumerate()
            .filter(move |(_, b)| b.name == name)
            .map(|(i, _)| i as BindingId)
    }

    /// The reads of `name` in the scope (nested scopes included).
    pub fn references_of<'s>(
        &'s self,
        name: &'s [u8],
    ) -> impl Iterator<Item = &'s Reference<'t>> + 's {
        self.references.iter().filter(move |r| r.name == name)
    }

    /// The read at this identifier, if the scope has one there.
    pub fn reference_at(&self, ident: Node) -> Option<&Reference<'t>> {
        self.reference_at
            .get(&ident.id())
            .map(|i| &self.references[*i])
    }

    pub fn is_declared(&self, name: &[u8]) -> bool {
        self.declared.contains(&name)
    }

    /// The clauses around `guard`, innermost first.
    pub fn guards_out(&self, guard: Option<GuardId>) -> impl Iterator<Item = &Guard<'t>> {
        let mut at = guard;
        std::iter::from_fn(move || {
            let g = &self.guards[at? as usize];
            at = g.parent;
            Some(g)
        })
    }

    /// The innermost `finally` clause around `guard`, if any.
    pub fn finally_of(&self, guard: Option<GuardId>) -> Option<&Guard<'t>> {
        self.guards_out(guard).find(|g| g.clause == Clause::Finally)
    }

    /// Whether a `raise` at this exit is caught inside the scope: a `try`
    /// around it, in its body, has `except` clauses (connfix does not
    /// judge which exceptions they take: it errs towards "caught", which
    /// only ever means one finding fewer).
    pub fn caught(&self, exit: &Exit) -> bool {
        exit.kind == ExitKind::Raise
            && self
                .guards_out(exit.guard)
                .any(|g| g.clause == Clause::Body && g.handlers)
    }
}

/// The models of one file's scopes, built when first asked for.
pub struct Semantic<'t> {
    file: &'t SourceFile,
    models: RefCell<HashMap<usize, Rc<ScopeModel<'t>>>>,
}

impl<'t> Semantic<'t> {
    pub fn new(file: &'t SourceFile) -> Semantic<'t> {
        Semantic {
            file,
            models: RefCell::new(HashMap::default()),
        }
    }

    pub fn file(&self) -> &'t SourceFile {
        self.file
    }

    /// The model of the scope `node` opens: a function definition, lambda,
    /// class definition, or the module.
    pub fn scope(&self, node: Node<'t>) -> Rc<ScopeModel<'t>> {
        if let Some(model) = self.models.borrow().get(&node.id()) {
            return model.clone();
        }
        let model = Rc::new(Builder::build(node, &self.file.text));
        self.models.borrow_mut().insert(node.id(), model.clone());
        model
    }

    /// The scopes from `scope` outwards that a free name in it resolves
    /// through (enclosing functions, then the module; class bodies are
    /// skipped as Python skips them), innermost first; `scope` excluded.
    pub fn enclosing(&self, scope: Node<'t>) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        let mut at = scope.parent();
        while let Some(node) = at {
            if matches!(
                node.kind_name(),
                "function_definition" | "lambda" | "module"
            ) {
                out.push(node);
            }
            at = node.parent();
        }
        out
    }
}

/// Words of a `State` held inline: clones at branches allocate nothing
/// for a scope of up to `INLINE_WORDS * 64` bindings.
const INLINE_WORDS: usize = 2;

/// A set of binding ids, as bits, or no state at all where no path
/// arrives (`live` false). `len` counts the words ever touched, as a
/// growing vector of words would: two sets that differ only in trailing
/// zero words are unequal (the loop's fixed point compares them so).
#[derive(Debug, Clone, Default)]
struct State {
    live: bool,
    len: u32,
    inline: [u64; INLINE_WORDS],
    /// All the words, once there are more than `INLINE_WORDS`.
    heap: Vec<u64>,
}

impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.live == other.live && (!self.live || self.words() == other.words())
    }
}

impl State {
    fn live() -> State {
        State {
            live: true,
            ..State::default()
        }
    }

    fn dead() -> State {
        State::default()
    }

    fn words(&self) -> &[u64] {
        let len = self.len as usize;
        if len <= INLINE_WORDS {
            &self.inline[..len]
        } else {
            &self.heap
        }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        let len = self.len as usize;
        if len <= INLINE_WORDS {
            &mut self.inline[..len]
        } else {
            &mut self.heap
        }
    }

    /// Grow to `len` words, the new ones zero.
    fn grow(&mut self, len: usize) {
        let old = self.len as usize;
        if len <= old {
            return;
        }
        if len > INLINE_WORDS {
            if old <= INLINE_WORDS {
                self.heap.clear();
                self.heap.extend_from_slice(&self.inline[..old]);
            }
            self.heap.resize(len, 0);
        }
        self.len = len as u32;
    }

    fn join(&mut self, other: &State) {
        if !other.live {
            return;
        }
        if !self.live {
            self.clone_from(other);
            return;
        }
        let theirs = other.words();
        self.grow(theirs.len());
        for (x, y) in self.words_mut().iter_mut().zip(theirs) {
            *x |= *y;
        }
    }

    fn set(&mut self, b: BindingId) {
        if self.live {
            let (word, bit) = (b as usize / 64, b % 64);
            self.grow(word + 1);
            self.words_mut()[word] |= 1 << bit;
        }
    }

    fn clear(&mut self, b: BindingId) {
        if self.live {
            let (word, bit) = (b as usize / 64, b % 64);
            if let Some(w) = self.words_mut().get_mut(word) {
                *w &= !(1 << bit);
            }
        }
    }

    fn has(&self, b: BindingId) -> bool {
        self.live
            && self
                .words()
                .get(b as usize / 64)
                .is_some_and(|w| w & (1 << (b % 64)) != 0)
    }
}

/// Where an abrupt exit goes: the loops and `try` statements around the
/// statement being read.
enum Frame {
    Loop {
        breaks: State,
        continues: State,
    },
    Try {
        /// What may reach the handlers: the state before every statement
        /// of the body.
        handlers: State,
        /// What may reach the `finally` other than by falling through.
        finally: State,
        /// Whether the frame is in its body (an exception there reaches
        /// the handlers) or past it.
        in_body: bool,
    },
}

/// A cursor, the ancestors of its node (the nearest last) and, for each
/// ancestor entered, how many of its children are still to visit.
type Walk<'t> = (tree_sitter::TreeCursor<'t>, Vec<Node<'t>>, Vec<u32>);

struct Builder<'t, 's> {
    src: &'s [u8],
    model: ScopeModel<'t>,
    /// Binding and reference ids by node id: loops are read more than once.
    binding_at: HashMap<usize, BindingId>,
    reference_at: HashMap<usize, usize>,
    /// Binding ids by name.
    by_name: HashMap<&'t [u8], Reaching>,
    frames: Vec<Frame>,
    guard: Option<GuardId>,
    statement: Option<Node<'t>>,
    /// Cursors and ancestor paths for expression walks, kept for the next
    /// walk: making a cursor allocates, and every expression takes one.
    spare: Vec<Walk<'t>>,
    /// Cursors for iterating a node's children, kept the same way.
    cursors: Vec<tree_sitter::TreeCursor<'t>>,
}

impl<'t, 's> Builder<'t, 's>
where
    's: 't,
{
    fn build(scope: Node<'t>, src: &'s [u8]) -> ScopeModel<'t> {
        let mut b = Builder {
            src,
            model: ScopeModel {
                node: scope,
                bindings: Vec::new(),
                references: Vec::new(),
                guards: Vec::new(),
                exits: Vec::new(),
                declared: Vec::new(),
                binding_at: HashMap::default(),
                reference_at: HashMap::default(),
            },
            binding_at: HashMap::default(),
            reference_at: HashMap::default(),
            by_name: HashMap::default(),
            frames: Vec::new(),
            guard: None,
            statement: None,
            spare: Vec::new(),
            cursors: Vec::new(),
        };
        let mut state = State::live();
        match scope.kind_name() {
            "module" => {
                b.block(scope, &mut state);
            }
            "function_definition" => {
                if let Some(parameters) = scope.field(FIELDS.parameters) {
                    b.statement = Some(scope);
                    b.parameters(parameters, &mut state);
                }
                if let Some(body) = scope.field(FIELDS.body) {
                    b.block(body, &mut state);
                }
            }
            "lambda" => {
                b.statement = Some(scope);
                if let Some(parameters) = scope.field(FIELDS.parameters) {
                    b.parameters(parameters, &mut state);
                }
                if let Some(body) = scope.field(FIELDS.body) {
                    b.expression(body, &mut state);
                }
            }
            "class_definition" => {
                if let Some(body) = scope.field(FIELDS.body) {
                    b.block(body, &mut state);
                }
            }
            _ => {}
        }
        // A captured read may run whenever the nested scope runs: every
        // binding of its name may reach it.
        let Builder {
            mut model,
            by_name,
            binding_at,
            reference_at,
            ..
        } = b;
        model.binding_at = binding_at;
        model.reference_at = reference_at;
        for r in &mut model.references {
            if r.role == Role::Captured {
                r.reaching = Reaching::from_slice(by_name.get(r.name).map_or(&[], |ids| &ids[..]));
            }
            r.reaching.sort_dedup();
        }
        model
    }

    /// Call `each` with every named child of `node`, in order (a cursor
    /// from the pool: no list of children is made).
    fn named_children(&mut self, node: Node<'t>, mut each: impl FnMut(&mut Self, Node<'t>)) {
        let mut cursor = match self.cursors.pop() {
            Some(mut cursor) => {
                cursor.reset(node);
                cursor
            }
            None => node.walk(),
        };
        let count = node.child_count();
        if count > 0 && cursor.goto_first_child() {
            for i in 1..=count {
                let child = cursor.node();
                if child.is_named() {
                    each(self, child);
                }
                // Not past the last child: a failed step costs as much as
                // one that succeeds.
                if i == count || !cursor.goto_next_sibling() {
                    break;
                }
            }
            debug_assert!(!cursor.goto_next_sibling(), "the child count is right");
        }
        self.cursors.push(cursor);
    }

    /// Call `each` with every child of `node` in the field `field`, in
    /// order.
    fn field_children(
        &mut self,
        node: Node<'t>,
        field: syntax::FieldId,
        mut each: impl FnMut(&mut Self, Node<'t>),
    ) {
        let mut cursor = match self.cursors.pop() {
            Some(mut cursor) => {
                cursor.reset(node);
                cursor
            }
            None => node.walk(),
        };
        let count = node.child_count();
        if count > 0 && cursor.goto_first_child() {
            for i in 1..=count {
                if cursor.field_id() == Some(field) {
                    each(self, cursor.node());
                }
                if i == count || !cursor.goto_next_sibling() {
                    break;
                }
            }
            debug_assert!(!cursor.goto_next_sibling(), "the child count is right");
        }
        self.cursors.push(cursor);
    }

    fn name(&self, node: Node) -> &'t [u8] {
        let range = node.byte_range();
        // SAFETY of the lifetime: `src` outlives `'t` ('s: 't).
        &self.src[range]
    }

    /// Record a binding of the identifier (or of the node standing for the
    /// name, for imports) and make it the only one of its name in `state`.
    fn bind(
        &mut self,
        ident: Node<'t>,
        name: &'t [u8],
        kind: BindingKind,
        value: Option<Node<'t>>,
        state: &mut State,
    ) {
        let reachable = state.live;
        let others = self.by_name.entry(name).or_default();
        let id = match self.binding_at.entry(ident.id()) {
            std::collections::hash_map::Entry::Occupied(at) => {
                let id = *at.get();
                self.model.bindings[id as usize].reachable |= reachable;
                id
            }
            std::collections::hash_map::Entry::Vacant(at) => {
                let id = self.model.bindings.len() as BindingId;
                self.model.bindings.push(Binding {
                    name,
                    kind,
                    ident,
                    statement: self.statement.unwrap_or(ident),
                    value,
                    guard: self.guard,
                    reachable,
                });
                at.insert(id);
                others.push(id);
                id
            }
        };
        // Every binding of the name, this one included.
        for other in others.iter() {
            state.clear(*other);
        }
        state.set(id);
    }

    fn read(&mut self, ident: Node<'t>, role: Role<'t>, state: &State) {
        let name = self.name(ident);
        let ids = match self.by_name.get(name) {
            Some(ids) if role != Role::Captured => &ids[..],
            _ => &[],
        };
        let reaching = match self.reference_at.entry(ident.id()) {
            std::collections::hash_map::Entry::Occupied(at) => {
                &mut self.model.references[*at.get()].reaching
            }
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(self.model.references.len());
                self.model.references.push(Reference {
                    name,
                    ident,
                    role,
                    statement: self.statement.unwrap_or(ident),
                    guard: self.guard,
                    reaching: Reaching::default(),
                });
                &mut self
                    .model
                    .references
                    .last_mut()
                    .expect("just pushed")
                    .reaching
            }
        };
        for b in ids {
            if state.has(*b) {
                reaching.push(*b);
            }
        }
    }

    fn parameters(&mut self, parameters: Node<'t>, state: &mut State) {
        self.named_children(parameters, |b, p| {
            // Defaults are read where the definition runs: in the
            // enclosing scope. Only the names are this scope's.
            let ident = match p.kind_name() {
                "identifier" => Some(p),
                "default_parameter" | "typed_default_parameter" => p.field(FIELDS.name),
                "typed_parameter" | "list_splat_pattern" | "dictionary_splat_pattern" => {
                    let mut first = None;
                    b.named_children(p, |_, c| {
                        if first.is_none() && c.kind_name() == "identifier" {
                            first = Some(c);
                        }
                    });
                    first
                }
                _ => None,
            };
            if let Some(ident) = ident.filter(|i| i.kind_name() == "identifier") {
                let name = b.name(ident);
                b.bind(ident, name, BindingKind::Param, None, state);
            }
        });
    }

    /// An exception may be raised here: what reaches the handlers of the
    /// `try` whose body holds this point, and every `finally` on the way.
    fn may_raise(&mut self, state: &State) {
        for frame in self.frames.iter_mut().rev() {
            if let Frame::Try {
                handlers,
                finally,
                in_body,
            } = frame
            {
                finally.join(state);
                if *in_body {
                    handlers.join(state);
                    return;
                }
            }
        }
    }

    /// `return` or `raise`: the `finally` clauses it leaves run.
    fn leave(&mut self, state: &State) {
        for frame in self.frames.iter_mut() {
            if let Frame::Try { finally, .. } = frame {
                finally.join(state);
            }
        }
    }

    /// Read the statements of `block` from `state`, leaving in it the
    /// state after them.
    fn block(&mut self, block: Node<'t>, state: &mut State) {
        self.named_children(block, |b, stmt| {
            if kind(stmt) != K::Comment {
                b.statement(stmt, state);
            }
        });
    }

    /// The state after `block` (if any) entered with `state`.
    fn branch(&mut self, block: Option<Node<'t>>, state: &State) -> State {
        let mut out = state.clone();
        if let Some(block) = block {
            self.block(block, &mut out);
        }
        out
    }

    fn statement(&mut self, stmt: Node<'t>, state: &mut State) {
        let outer = self.statement.replace(stmt);
        self.may_raise(state);
        self.statement_inner(stmt, state);
        self.statement = outer;
    }

    fn statement_inner(&mut self, stmt: Node<'t>, state: &mut State) {
        let field = |id| stmt.field(id);
        match kind(stmt) {
            K::ExpressionStatement => {
                self.named_children(stmt, |b, child| match child.kind_name() {
                    "assignment" => b.assignment(child, state),
                    "augmented_assignment" => {
                        if let Some(right) = child.field(FIELDS.right) {
                            b.expression(right, state);
                        }
                        if let Some(left) = child.field(FIELDS.left) {
                            b.expression(left, state);
                            if left.kind_name() == "identifier" {
                                let name = b.name(left);
                                b.bind(left, name, BindingKind::AugAssign, None, state);
                            }
                        }
                    }
                    _ => b.expression_in(child, &[stmt], state),
                });
            }
            K::ReturnStatement | K::RaiseStatement => {
                self.named_children(stmt, |b, child| b.expression_in(child, &[stmt], state));
                let kind = if stmt.kind_name() == "return_statement" {
                    ExitKind::Return
                } else {
                    self.may_raise(state);
                    ExitKind::Raise
                };
                // A loop's body is read again until its state settles: an
                // exit is recorded the first time only (twice, it was
                // reported twice by early-return-leak).
                if !self.model.exits.iter().any(|e| e.node == stmt) {
                    self.model.exits.push(Exit {
                        node: stmt,
                        kind,
                        guard: self.guard,
                    });
                }
                self.leave(state);
                *state = State::dead();
            }
            K::BreakStatement | K::ContinueStatement => {
                let brk = stmt.kind_name() == "break_statement";
                for frame in self.frames.iter_mut().rev() {
                    match frame {
                        Frame::Try { finally, .. } => finally.join(state),
                        Frame::Loop { breaks, continues } => {
                            if brk {
                                breaks.join(state);
                            } else {
                                continues.join(state);
                            }
                            break;
                        }
                    }
                }
                *state = State::dead();
            }
            K::IfStatement => {
                if let Some(c) = field(FIELDS.condition) {
                    self.expression(c, state);
                }
                let consequence = field(FIELDS.consequence);
                let mut out = self.branch(consequence, state);
                let mut has_else = false;
                // `state` is now what reaches each next clause. The clauses
                // follow the consequence: when it ends the statement there
                // are none, and its children need not be searched.
                let clauses = stmt.has_error() || !ends(consequence, stmt);
                if clauses {
                    self.field_children(stmt, FIELDS.alternative, |b, clause| {
                        if clause.kind_name() == "else_clause" {
                            has_else = true;
                            out.join(&b.branch(clause.field(FIELDS.body), state));
                        } else {
                            if let Some(c) = clause.field(FIELDS.condition) {
                                b.expression(c, state);
                            }
                            out.join(&b.branch(clause.field(FIELDS.consequence), state));
                        }
                    });
                }
                if !has_else {
                    out.join(state);
                }
                *state = out;
            }
            K::ForStatement | K::WhileStatement => {
                let is_for = stmt.kind_name() == "for_statement";
                if let Some(right) = field(FIELDS.right).filter(|_| is_for) {
                    self.expression(right, state);
                }
                let (left, condition) = match is_for {
                    true => (field(FIELDS.left), None),
                    false => (None, field(FIELDS.condition)),
                };
                let body = field(FIELDS.body);
                let mut head = std::mem::take(state);
                let mut exit = State::dead();
                // Until nothing new reaches the loop's head (the sets only
                // grow, so a few rounds do).
                for _ in 0..8 {
                    let mut entry = head.clone();
                    if let Some(left) = left {
                        self.targets(left, BindingKind::Loop, None, &mut entry);
                    } else if let Some(c) = condition {
                        self.expression(c, &mut entry);
                    }
                    exit.join(&head);
                    self.frames.push(Frame::Loop {
                        breaks: State::dead(),
                        continues: State::dead(),
                    });
                    if let Some(body) = body {
                        self.block(body, &mut entry);
                    }
                    let Some(Frame::Loop { breaks, continues }) = self.frames.pop() else {
                        unreachable!("the loop's frame is on top");
                    };
                    exit.join(&breaks);
                    let mut next = head.clone();
                    next.join(&entry);
                    next.join(&continues);
                    if next == head {
                        break;
                    }
                    head = next;
                }
                // An `else` follows the body: none when the body ends the loop.
                let alternative = match stmt.has_error() || !ends(body, stmt) {
                    true => field(FIELDS.alternative).and_then(|e| e.field(FIELDS.body)),
                    false => None,
                };
                let mut out = self.branch(alternative, &head);
                out.join(&exit);
                *state = out;
            }
            K::TryStatement => self.try_statement(stmt, state),
            K::WithStatement => {
                self.named_children(stmt, |b, clause| {
                    if clause.kind_name() != "with_clause" {
                        return;
                    }
                    b.named_children(clause, |b, item| {
                        let Some(value) = item.field(FIELDS.value) else {
                            return;
                        };
                        if value.kind_name() == "as_pattern" {
                            let v = value.named_child(0);
                            if let Some(v) = v {
                                b.expression_in(v, &[item, value], state);
                            }
                            if let Some(alias) = value.field(FIELDS.alias) {
                                // `as_pattern_target` around the name.
                                let target = match alias.named_child(0) {
                                    Some(name) if alias.named_child_count() == 1 => name,
                                    _ => alias,
                                };
                                b.targets(target, BindingKind::With, v, state);
                            }
                        } else {
                            b.expression_in(value, &[item], state);
                        }
                    });
                });
                if let Some(body) = field(FIELDS.body) {
                    self.block(body, state);
                }
            }
            K::MatchStatement => {
                if let Some(subject) = field(FIELDS.subject) {
                    self.expression(subject, state);
                }
                let mut out = state.clone();
                if let Some(body) = field(FIELDS.body) {
                    self.named_children(body, |b, case| {
                        if case.kind_name() == "case_clause" {
                            out.join(&b.branch(case.field(FIELDS.consequence), state));
                        }
                    });
                }
                *state = out;
            }
            K::FunctionDefinition | K::ClassDefinition => {
                self.definition(stmt, state);
            }
            K::DecoratedDefinition => {
                self.named_children(stmt, |b, decorator| {
                    if decorator.kind_name() == "decorator" {
                        b.expression(decorator, state);
                    }
                });
                if let Some(definition) = field(FIELDS.definition) {
                    self.definition(definition, state);
                }
            }
            K::DeleteStatement => {
                for name in syntax::bound_names(stmt) {
                    let text = self.name(name);
                    self.bind(name, text, BindingKind::Del, None, state);
                }
            }
            K::GlobalStatement | K::NonlocalStatement => {
                self.named_children(stmt, |b, name| {
                    if name.kind_name() == "identifier" {
                        let text = b.name(name);
                        b.model.declared.push(text);
                    }
                });
            }
            K::ImportStatement | K::ImportFromStatement | K::FutureImportStatement => {
                self.import(stmt, state);
            }
            _ => {
                // Other simple statements (assert, pass, print, exec, type
                // aliases): their reads.
                self.named_children(stmt, |b, child| b.expression(child, state));
            }
        }
    }

    fn try_statement(&mut self, stmt: Node<'t>, state: &mut State) {
        // Whether the `try` has `except` clauses is known once its clauses
        // are read (after its body): the guards made before then are told
        // at that point (`handlers` below), not by a first pass over them.
        let mut handlers = false;
        let outer_guard = self.guard;
        let first_guard = self.model.guards.len();
        let guard = |b: &mut Self, clause: Clause, handlers: bool| {
            let id = b.model.guards.len() as GuardId;
            b.model.guards.push(Guard {
                try_statement: stmt,
                clause,
                parent: outer_guard,
                handlers,
            });
            b.guard = Some(id);
        };
        self.frames.push(Frame::Try {
            handlers: State::dead(),
            finally: State::dead(),
            in_body: true,
        });
        guard(self, Clause::Body, false);
        let body = self.branch(stmt.field(FIELDS.body), state);
        let mut caught = match self.frames.last_mut() {
            Some(Frame::Try {
                handlers, in_body, ..
            }) => {
                *in_body = false;
                let mut caught = handlers.clone();
                caught.join(&body);
                caught
            }
            _ => unreachable!("the try's frame is on top"),
        };
        // What falls through to the `finally`.
        let mut through = State::dead();
        let mut has_else = false;
        let mut finally_block = None;
        self.named_children(stmt, |b, clause| match clause.kind_name() {
            "except_clause" | "except_group_clause" => {
                handlers = true;
                guard(b, Clause::Except, true);
                let mut entry = caught.clone();
                let mut block = None;
                b.named_children(clause, |b, part| match part.kind_name() {
                    "block" => block = Some(part),
                    "as_pattern" => {
                        if let Some(v) = part.named_child(0) {
                            b.expression(v, &mut entry);
                        }
                        if let Some(alias) = part.field(FIELDS.alias) {
                            b.targets(alias, BindingKind::Except, None, &mut entry);
                        }
                    }
                    "comment" => {}
                    _ => b.expression(part, &mut entry),
                });
                if let Some(block) = block {
                    b.block(block, &mut entry);
                }
                through.join(&entry);
                // The handler's name is unbound at its end.
                caught.join(&State::dead());
            }
            "else_clause" => {
                has_else = true;
                guard(b, Clause::Else, false);
                through.join(&b.branch(clause.field(FIELDS.body), &body));
            }
            "finally_clause" => {
                b.named_children(clause, |_, p| {
                    if finally_block.is_none() && p.kind_name() == "block" {
                        finally_block = Some(p);
                    }
                });
            }
            _ => {}
        });
        if !has_else {
            through.join(&body);
        }
        if handlers {
            for g in &mut self.model.guards[first_guard..] {
                if g.try_statement == stmt {
                    g.handlers = true;
                }
            }
        }
        let Some(Frame::Try { finally, .. }) = self.frames.pop() else {
            unreachable!("the try's frame is on top");
        };
        *state = through;
        if let Some(block) = finally_block {
            guard(self, Clause::Finally, handlers);
            state.join(&finally);
            // A finally entered by an exception or a return ends the
            // same way it was entered; joining them into what follows
            // errs towards "may reach".
            self.block(block, state);
        }
        self.guard = outer_guard;
    }

    /// A nested `def` or `class` as a statement of this scope: decorators
    /// and defaults (and bases) are read now, the name is bound, the body
    /// is read as captured.
    fn definition(&mut self, def: Node<'t>, state: &mut State) {
        if def.kind_name() == "function_definition" {
            if let Some(parameters) = def.field(FIELDS.parameters) {
                self.named_children(parameters, |b, p| {
                    if let Some(d) = p.field(FIELDS.value) {
                        b.expression(d, state);
                    }
                });
            }
        } else if let Some(bases) = def.field(FIELDS.superclasses) {
            self.expression(bases, state);
        }
        self.captured(def, state);
        if let Some(name) = def.field(FIELDS.name) {
            let text = self.name(name);
            self.bind(name, text, BindingKind::Def, None, state);
        }
    }

    fn import(&mut self, stmt: Node<'t>, state: &mut State) {
        self.field_children(stmt, FIELDS.name, |b, name| {
            // `import a.b` binds `a`; `import a.b as c` and `from m import
            // x as c` bind `c`; `from m import x` binds `x`.
            let bound = match name.kind_name() {
                "aliased_import" => name.field(FIELDS.alias),
                "dotted_name" if stmt.kind_name() == "import_statement" => name.named_child(0),
                "dotted_name" => {
                    name.named_child((name.named_child_count() as u32).saturating_sub(1))
                }
                _ => None,
            };
            if let Some(ident) = bound {
                let text = b.name(ident);
                b.bind(ident, text, BindingKind::Import, None, state);
            }
        });
    }

    fn assignment(&mut self, assignment: Node<'t>, state: &mut State) {
        // `a = b = value`: the value first, then the targets left to right.
        let mut targets = Vec::new();
        let mut at = assignment;
        let value = loop {
            if let Some(left) = at.field(FIELDS.left) {
                targets.push(left);
            }
            match at.field(FIELDS.right) {
                Some(right) if right.kind_name() == "assignment" => at = right,
                other => break other,
            }
        };
        if let Some(value) = value {
            self.expression_in(value, &[at], state);
        }
        for target in targets {
            self.targets(target, BindingKind::Assign, value, state);
        }
    }

    /// Bind the plain names of a target; read what else it holds
    /// (`x.y`, `d[k]`). `value` is recorded for a target that is one name.
    fn targets(
        &mut self,
        target: Node<'t>,
        kind: BindingKind,
        value: Option<Node<'t>>,
        state: &mut State,
    ) {
        if target.kind_name() == "identifier" {
            let name = self.name(target);
            self.bind(target, name, kind, value, state);
            return;
        }
        for n in syntax::target_leaves(target) {
            if n.kind_name() == "identifier" {
                let name = self.name(n);
                self.bind(n, name, kind, None, state);
            } else {
                self.expression(n, state);
            }
        }
    }

    /// Every read in an expression, in order; walruses bind, lambdas are
    /// captured. Iterative: expressions can nest thousands deep.
    fn expression(&mut self, expr: Node<'t>, state: &mut State) {
        self.expression_in(expr, &[], state);
    }

    /// `expression` for an expression whose ancestors (the nearest last)
    /// are `above`, as far as roles need to look up.
    fn expression_in(&mut self, expr: Node<'t>, above: &[Node<'t>], state: &mut State) {
        let kinds = &*syntax::KINDS;
        let (mut cursor, mut path, mut left) = match self.spare.pop() {
            Some((mut cursor, mut path, mut left)) => {
                cursor.reset(expr);
                path.clear();
                left.clear();
                (cursor, path, left)
            }
            None => (expr.walk(), Vec::new(), Vec::new()),
        };
        path.extend_from_slice(above);
        'walk: loop {
            let n = cursor.node();
            let kind = n.kind_id();
            let mut enter = true;
            if kind == kinds.identifier {
                if !is_not_a_read(n, path.last().copied()) {
                    let role = role(n, &path, self.src);
                    self.read(n, role, state);
                }
                enter = false;
            } else if kind == kinds.lambda {
                self.captured(n, state);
                enter = false;
            } else if kind == kinds.named_expression {
                if let Some(value) = n.field(FIELDS.value) {
                    self.expression(value, state);
                }
                if let Some(name) = n.field(FIELDS.name) {
                    let text = self.name(name);
                    let value = n.field(FIELDS.value);
                    self.bind(name, text, BindingKind::Walrus, value, state);
                }
                enter = false;
            } else if kind == string_kind() {
                // A string holds no reads unless it is a format string
                // (`f"{x}"`, `t"{x}"`): only their `{` starts an
                // interpolation. Not entering the others saves a visit of
                // their parts.
                enter = n.has_error() || format_prefix(self.src, n.start_byte());
            } else if kind == kinds.keyword_argument {
                // The keyword is not a read; the value is.
                if let Some(value) = n.field(FIELDS.value) {
                    path.push(n);
                    self.expression_at(value, &mut path, state);
                    path.pop();
                }
                enter = false;
            }
            // Children counted first: a leaf is not entered, and the
            // cursor is not asked for a sibling after the last child (a
            // failed step costs as much as one that succeeds).
            if enter {
                let count = n.child_count();
                if count > 0 && cursor.goto_first_child() {
                    path.push(n);
                    left.push(children_to_visit(n, count, cursor.node()));
                    continue;
                }
            }
            loop {
                let Some(remaining) = left.last_mut() else {
                    break 'walk;
                };
                if *remaining & !CUT > 0 {
                    *remaining -= 1;
                    if cursor.goto_next_sibling() {
                        continue 'walk;
                    }
                }
                #[cfg(debug_assertions)]
                check_unvisited(&cursor, *remaining & CUT != 0, path.last().copied());
                cursor.goto_parent();
                path.pop();
                left.pop();
            }
        }
        self.spare.push((cursor, path, left));
    }

    /// `expression` for a node whose ancestors are `path` (so roles that
    /// look above it see them).
    fn expression_at(&mut self, expr: Node<'t>, path: &mut Vec<Node<'t>>, state: &mut State) {
        if expr.kind_id() == syntax::KINDS.identifier {
            let role = role(expr, path, self.src);
            self.read(expr, role, state);
        } else {
            self.expression(expr, state);
        }
    }

    /// The reads inside a nested scope of free names (not bound there),
    /// as `Captured` reads of this scope.
    fn captured(&mut self, scope: Node<'t>, _state: &State) {
        let model = Builder::build(scope, self.src);
        let local: Vec<&[u8]> = model
            .bindings
            .iter()
            .map(|b| b.name)
            .filter(|n| !model.declared.contains(n))
            .collect();
        for r in model.references {
            if !local.contains(&r.name) && !self.reference_at.contains_key(&r.ident.id()) {
                self.reference_at
                    .insert(r.ident.id(), self.model.references.len());
                self.model.references.push(Reference {
                    name: r.name,
                    ident: r.ident,
                    role: Role::Captured,
                    statement: self.statement.unwrap_or(scope),
                    guard: self.guard,
                    reaching: Reaching::default(),
                });
            }
        }
    }
}

/// The kind id of `string`.
fn string_kind() -> u16 {
    static ID: std::sync::LazyLock<u16> =
        std::sync::LazyLock::new(|| syntax::LANGUAGE.id_for_node_kind("string", true));
    *ID
}

/// Whether the string literal starting at `start` has an `f` or `t`
/// prefix, as tree-sitter's scanner decides.
fn format_prefix(src: &[u8], start: usize) -> bool {
    src[start..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .any(|b| matches!(b, b'f' | b'F' | b't' | b'T'))
}

/// The node kinds the model tells apart, by kind id (`kind`): matching a
/// kind name compares strings, at every statement and every read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K {
    Attribute,
    KeywordArgument,
    DottedName,
    AliasedImport,
    ImportFromStatement,
    ImportStatement,
    FutureImportStatement,
    Parameters,
    LambdaParameters,
    DefaultParameter,
    TypedParameter,
    TypedDefaultParameter,
    ParenthesizedExpression,
    Call,
    Await,
    ExpressionStatement,
    ArgumentList,
    ListSplat,
    DictionarySplat,
    ReturnStatement,
    ExpressionList,
    Yield,
    List,
    Tuple,
    Set,
    Dictionary,
    Pair,
    Assignment,
    WithItem,
    AsPattern,
    RaiseStatement,
    BreakStatement,
    ContinueStatement,
    IfStatement,
    ForStatement,
    WhileStatement,
    TryStatement,
    WithStatement,
    MatchStatement,
    FunctionDefinition,
    ClassDefinition,
    DecoratedDefinition,
    DeleteStatement,
    GlobalStatement,
    NonlocalStatement,
    Comment,
    Subscript,
    ListComprehension,
    SetComprehension,
    DictionaryComprehension,
    GeneratorExpression,
    Other,
}

/// Whether `node` (if any) ends where `outer` ends.
fn ends(node: Option<Node>, outer: Node) -> bool {
    node.is_some_and(|n| n.end_byte() == outer.end_byte())
}

/// A flag on a count of children still to visit: the node's last ones
/// are not visited (they hold no reads).
const CUT: u32 = 1 << 31;

/// How many of `node`'s `count` children the expression walk visits after
/// the first one (`first`), with `CUT` when that leaves some out. Without
/// errors, an attribute's reads are all in its object, its first child
/// (then `.` and the attribute's name), and a bracketed display's closing
/// bracket is its last child: each left out spares a cursor step, the
/// dearest part of the walk.
fn children_to_visit(node: Node, count: u32, first: Node) -> u32 {
    if node.has_error() {
        return count - 1;
    }
    match kind(node) {
        K::Attribute if !first.is_extra() => CUT,
        K::ArgumentList
        | K::ParenthesizedExpression
        | K::List
        | K::Tuple
        | K::Set
        | K::Dictionary
        | K::Subscript
        | K::ListComprehension
        | K::SetComprehension
        | K::DictionaryComprehension
        | K::GeneratorExpression
            if count >= 2 =>
        {
            (count - 2) | CUT
        }
        _ => count - 1,
    }
}

/// Debug builds: the children after the cursor's node are none (or, when
/// `cut`, hold no read: punctuation, comments, an attribute's name).
#[cfg(debug_assertions)]
fn check_unvisited(cursor: &tree_sitter::TreeCursor, cut: bool, parent: Option<Node>) {
    let mut rest = cursor.clone();
    while rest.goto_next_sibling() {
        let node = rest.node();
        assert!(
            cut,
            "a node's child count covers every child the cursor visits"
        );
        let attribute_name = parent.is_some_and(|p| kind(p) == K::Attribute)
            && node.kind_id() == syntax::KINDS.identifier
            && is_not_a_read(node, parent);
        assert!(
            !node.is_named() || node.is_extra() || attribute_name,
            "only punctuation, comments and an attribute's name are left out, not {node:?}"
        );
    }
}

/// The `K` of a node: the same answer as matching its `kind_name`.
fn kind(node: Node) -> K {
    static TABLE: std::sync::LazyLock<Vec<K>> = std::sync::LazyLock::new(|| {
        (0..syntax::LANGUAGE.node_kind_count())
            .map(|id| {
                let name = u16::try_from(id)
                    .ok()
                    .and_then(|id| syntax::LANGUAGE.node_kind_for_id(id))
                    .unwrap_or("");
                match name {
                    "attribute" => K::Attribute,
                    "keyword_argument" => K::KeywordArgument,
                    "dotted_name" => K::DottedName,
                    "aliased_import" => K::AliasedImport,
                    "import_from_statement" => K::ImportFromStatement,
                    "import_statement" => K::ImportStatement,
                    "future_import_statement" => K::FutureImportStatement,
                    "parameters" => K::Parameters,
                    "lambda_parameters" => K::LambdaParameters,
                    "default_parameter" => K::DefaultParameter,
                    "typed_parameter" => K::TypedParameter,
                    "typed_default_parameter" => K::TypedDefaultParameter,
                    "parenthesized_expression" => K::ParenthesizedExpression,
                    "call" => K::Call,
                    "await" => K::Await,
                    "expression_statement" => K::ExpressionStatement,
                    "argument_list" => K::ArgumentList,
                    "list_splat" => K::ListSplat,
                    "dictionary_splat" => K::DictionarySplat,
                    "return_statement" => K::ReturnStatement,
                    "expression_list" => K::ExpressionList,
                    "yield" => K::Yield,
                    "list" => K::List,
                    "tuple" => K::Tuple,
                    "set" => K::Set,
                    "dictionary" => K::Dictionary,
                    "pair" => K::Pair,
                    "assignment" => K::Assignment,
                    "with_item" => K::WithItem,
                    "as_pattern" => K::AsPattern,
                    "raise_statement" => K::RaiseStatement,
                    "break_statement" => K::BreakStatement,
                    "continue_statement" => K::ContinueStatement,
                    "if_statement" => K::IfStatement,
                    "for_statement" => K::ForStatement,
                    "while_statement" => K::WhileStatement,
                    "try_statement" => K::TryStatement,
                    "with_statement" => K::WithStatement,
                    "match_statement" => K::MatchStatement,
                    "function_definition" => K::FunctionDefinition,
                    "class_definition" => K::ClassDefinition,
                    "decorated_definition" => K::DecoratedDefinition,
                    "delete_statement" => K::DeleteStatement,
                    "global_statement" => K::GlobalStatement,
                    "nonlocal_statement" => K::NonlocalStatement,
                    "comment" => K::Comment,
                    "subscript" => K::Subscript,
                    "list_comprehension" => K::ListComprehension,
                    "set_comprehension" => K::SetComprehension,
                    "dictionary_comprehension" => K::DictionaryComprehension,
                    "generator_expression" => K::GeneratorExpression,
                    _ => K::Other,
                }
            })
            .collect()
    });
    TABLE
        .get(usize::from(node.kind_id()))
        .copied()
        .unwrap_or(K::Other)
}

/// Identifiers that are not reads: attribute names, keywords of keyword
/// arguments, parameter names, import names.
fn is_not_a_read(ident: Node, parent: Option<Node>) -> bool {
    let Some(parent) = parent else {
        return false;
    };
    match kind(parent) {
        // An attribute's object is its first child, its name comes after
        // the dot: comparing positions spares a search of its children.
        K::Attribute => ident.start_byte() != parent.start_byte(),
        K::KeywordArgument => parent.field(FIELDS.name) == Some(ident),
        K::DottedName | K::AliasedImport | K::ImportFromStatement | K::ImportStatement => true,
        K::Parameters
        | K::LambdaParameters
        | K::DefaultParameter
        | K::TypedParameter
        | K::TypedDefaultParameter => parent.field(FIELDS.value) != Some(ident),
        _ => false,
    }
}

/// The name of an attribute (`b` in `a.b`). Without errors it is the
/// identifier that ends the attribute: read back from its end instead of
/// searching its children for the field.
fn attribute_name<'t>(attribute: Node<'t>, src: &'t [u8]) -> &'t [u8] {
    if attribute.has_error() {
        return attribute
            .field(FIELDS.attribute)
            .map_or(&b""[..], |a| text(a, src));
    }
    let end = attribute.end_byte();
    let start = src[..end]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80))
        .map_or(0, |i| i + 1);
    let name = &src[start..end];
    // Beyond ASCII, what counts as part of the name is tree-sitter's to say
    // (a byte-order mark before it is not): ask the field.
    if !name.is_ascii() {
        return attribute
            .field(FIELDS.attribute)
            .map_or(&b""[..], |a| text(a, src));
    }
    debug_assert_eq!(
        Some(name),
        attribute.field(FIELDS.attribute).map(|a| text(a, src)),
        "an attribute ends with its name"
    );
    name
}

/// What the read `ident` does with its value; `path` holds its ancestors,
/// its parent last.
fn role<'t>(ident: Node<'t>, path: &[Node<'t>], src: &'t [u8]) -> Role<'t> {
    let up = |n: usize| path.len().checked_sub(n).map(|i| path[i]);
    // Parentheses around the name do not change what is done with it.
    let mut depth = 1;
    let mut child = ident;
    while let Some(p) = up(depth).filter(|p| kind(*p) == K::ParenthesizedExpression) {
        child = p;
        depth += 1;
    }
    let Some(parent) = up(depth) else {
        return Role::Other;
    };
    match kind(parent) {
        // The object and a call's function are their node's first child.
        K::Attribute if child.start_byte() == parent.start_byte() => {
            let call = up(depth + 1)
                .filter(|c| kind(*c) == K::Call && c.start_byte() == parent.start_byte());
            match call {
                Some(call) => {
                    let method = attribute_name(parent, src);
                    let mut holder = up(depth + 2);
                    if holder.is_some_and(|h| kind(h) == K::Await) {
                        holder = up(depth + 3);
                    }
                    Role::MethodCall {
                        method,
                        call,
                        statement: holder.is_some_and(|h| kind(h) == K::ExpressionStatement),
                    }
                }
                None => Role::Attribute,
            }
        }
        K::ArgumentList => match up(depth + 1).filter(|c| kind(*c) == K::Call) {
            Some(call) => Role::Argument { call },
            None => Role::Other,
        },
        K::KeywordArgument if parent.field(FIELDS.value) == Some(child) => {
            match up(depth + 2).filter(|c| kind(*c) == K::Call) {
                Some(call) => Role::Argument { call },
                None => Role::Other,
            }
        }
        K::ListSplat | K::DictionarySplat => match up(depth + 2).filter(|c| kind(*c) == K::Call) {
            Some(call) => Role::Argument { call },
            None => Role::Contained,
        },
        K::ReturnStatement => Role::Returned,
        K::ExpressionList if up(depth + 1).is_some_and(|p| kind(p) == K::ReturnStatement) => {
            Role::Returned
        }
        K::Yield => Role::Yielded,
        K::ExpressionList if up(depth + 1).is_some_and(|p| kind(p) == K::Yield) => Role::Yielded,
        K::List | K::Tuple | K::Set | K::Dictionary | K::Pair | K::ExpressionList => {
            Role::Contained
        }
        K::Assignment if parent.field(FIELDS.right) == Some(child) => Role::Stored,
        K::WithItem => Role::WithItem,
        K::AsPattern if up(depth + 1).is_some_and(|p| kind(p) == K::WithItem) => Role::WithItem,
        _ => Role::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Found by the fuzz test: a byte-order mark before an attribute's
    /// name is not part of the name (tree-sitter's field says so), and the
    /// read of the name from the attribute's end must agree.
    #[test]
    fn an_attribute_name_after_a_byte_order_mark_is_the_fields() {
        let src = "def f():\n    conn = get_db_connection()\n    x = conn.\u{feff}getvalue()\n    conn.close()\n";
        let file = SourceFile::new(
            Path::new("t.py"),
            src.as_bytes().to_vec(),
            Default::default(),
        )
        .unwrap();
        let semantic = Semantic::new(&file);
        let function = file.tree.root_node().named_child(0).unwrap();
        let model = semantic.scope(function);
        assert_eq!(model.bindings.len(), 2);
    }

    fn with_model<R>(src: &str, f: impl FnOnce(&ScopeModel, &[u8]) -> R) -> R {
        let file = SourceFile::new(
            Path::new("t.py"),
            src.as_bytes().to_vec(),
            Default::default(),
        )
        .unwrap();
        let semantic = Semantic::new(&file);
        let root = file.tree.root_node();
        let function = root.named_child(0).unwrap();
        let model = semantic.scope(function);
        f(&model, &file.text)
    }

    /// For every read of `name`: its line and the lines of the bindings
    /// that may reach it.
    fn reaching(src: &str, name: &str) -> Vec<(usize, Vec<usize>)> {
        with_model(src, |m, _| {
            m.references_of(name.as_bytes())
                .map(|r| {
                    (
                        r.ident.start_position().row + 1,
                        r.reaching
                            .iter()
                            .map(|b| m.bindings[*b as usize].ident.start_position().row + 1)
                            .collect(),
                    )
                })
                .collect()
        })
    }

    #[test]
    fn branches_join_and_rebinding_kills() {
        let src = "def f(a):\n    if a:\n        c = g()\n    else:\n        c = h()\n    c.close()\n    c = None\n    return c\n";
        assert_eq!(reaching(src, "c"), [(6, vec![3, 5]), (8, vec![7])]);
    }

    #[test]
    fn loops_reach_their_head_and_break_leaves() {
        let src = "def f(xs):\n    c = g()\n    for x in xs:\n        c.use()\n        if x:\n            c = h()\n            break\n    c.close()\n";
        assert_eq!(reaching(src, "c"), [(4, vec![2]), (8, vec![2, 6])]);
    }

    #[test]
    fn exceptions_reach_handlers_and_finally() {
        let src = "def f():\n    c = None\n    try:\n        c = g()\n        c = h()\n    except E:\n        c.a()\n    finally:\n        c.b()\n";
        assert_eq!(reaching(src, "c"), [(7, vec![2, 4, 5]), (9, vec![2, 4, 5])]);
    }

    #[test]
    fn returns_reach_finally_and_captures_see_every_binding() {
        let src = "def f(x):\n    c = g()\n    try:\n        if x:\n            return 1\n        c = h()\n        k = lambda: c.close()\n    finally:\n        c.close()\n";
        assert_eq!(reaching(src, "c"), [(7, vec![2, 6]), (9, vec![2, 6])]);
    }

    #[test]
    fn roles_and_walrus_and_exits() {
        let src = "def f(e):\n    if (c := g()):\n        c.close()\n    run(e)\n    x.y = e\n    e.dispose()\n    await c.close()\n    return (e, 1)\n";
        with_model(src, |m, _| {
            let w = m.bindings_of(b"c").next().unwrap();
            assert_eq!(m.bindings[w as usize].kind, BindingKind::Walrus);
            let roles: Vec<String> = m
                .references
                .iter()
                .filter(|r| r.name == b"e" || r.name == b"c")
                .map(|r| match r.role {
                    Role::MethodCall {
                        method, statement, ..
                    } => format!("{}:{}", String::from_utf8_lossy(method), statement),
                    other => format!("{other:?}").split(' ').next().unwrap().to_string(),
                })
                .collect();
            assert_eq!(
                roles,
                [
                    "close:true",
                    "Argument",
                    "Stored",
                    "dispose:true",
                    "close:true",
                    "Contained"
                ]
            );
            assert_eq!(m.exits.len(), 1);
        });
    }

    #[test]
    fn a_raise_inside_a_try_with_handlers_is_caught() {
        let src = "def f():\n    try:\n        raise E\n    except E:\n        pass\n    raise F\n";
        with_model(src, |m, _| {
            let caught: Vec<bool> = m.exits.iter().map(|e| m.caught(e)).collect();
            assert_eq!(caught, [true, false]);
        });
    }
}
