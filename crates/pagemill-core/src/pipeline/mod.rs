//! Bounded-memory primitives of the streaming engine.
//!
//! Pages flow source → workers → ordered sinks. Two things keep memory flat whatever the
//! document's length:
//! - the [`MemoryBudget`] admits a page only when its estimated cost fits, and the cost is
//!   returned only when the page's result has been written by the sinks;
//! - the [`ReorderWindow`] holds results that finished ahead of an earlier page, and never
//!   more than a fixed number of them;
//! - the [`FurnitureStage`] holds back a few pages more, to tell running headers and
//!   footers by their repetition.

mod budget;
mod furniture;
mod reorder;

pub use budget::{MemoryBudget, Permit};
pub use furniture::FurnitureStage;
pub use reorder::ReorderWindow;
