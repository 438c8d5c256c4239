// Durability: how one store write reaches the disk. Writes are synced unless the caller of one
// of the few operations that take a Durability asks for less.
#pragma once

namespace mbx {

enum class Durability {
  // Durable when the call returns, as the store is configured (RocksDB: an fsync of the WAL
  // unless RocksdbOptions::sync is false).
  synced,
  // Written to the log without an fsync of its own: it survives a process crash at once, and
  // a power loss only until the next synced write of any caller, which makes it durable too
  // (the log is one ordered file, so a later write is never kept without an earlier one).
  // For writes that a synced write of the same flow follows before anyone is told of them,
  // and for writes that recovery redoes when they are lost. The in-memory store ignores it.
  deferred,
};

}  // namespace mbx
