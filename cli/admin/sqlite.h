#pragma once

// A thin RAII layer over SQLite3 for the inventory: a connection, prepared statements with
// bound parameters (never SQL built from input), errors as values.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "pkcs11/result.h"

namespace attache::cli::admin {

class Statement {
  public:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Parameters are numbered from 1.
    Statement& bind(int index, const std::string& value);
    Statement& bind(int index, const std::optional<std::string>& value);
    Statement& bind(int index, std::int64_t value);

    // True: a row is ready; false: done.
    Result<bool> step();
    // Runs a statement that returns no rows.
    Status run();

    std::string text(int column) const;
    std::optional<std::string> optional_text(int column) const;
    std::int64_t integer(int column) const;

  private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

class Database {
  public:
    // `flags`: SQLITE_OPEN_READONLY or SQLITE_OPEN_READWRITE (| SQLITE_OPEN_CREATE).
    static Result<Database> open(const std::string& path, int flags);
    ~Database();
    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Status exec(const std::string& sql);
    Result<Statement> prepare(const std::string& sql);
    std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
    // SQLite opens a file it may not write read-only, even when asked for read-write.
    bool read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }
    const std::string& path() const { return path_; }

  private:
    Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    sqlite3* db_ = nullptr;
    std::string path_;
};

// "BEGIN IMMEDIATE" now, "ROLLBACK" on destruction unless commit() succeeded.
class Transaction {
  public:
    static Result<Transaction> begin(Database& db);
    ~Transaction();
    Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Status commit();

  private:
    explicit Transaction(Database& db) : db_(&db) {}
    Database* db_;
};

}  // namespace attache::cli::admin
