// Parsers for the two Cypher files of an export: schema.cypher (CREATE NODE
// TABLE / CREATE REL TABLE; other statements carried verbatim) and
// copy.cypher (COPY statements naming the data files).
//
// A small tokenizer is enough: these files are machine-written by Kuzu, but
// identifiers may be bare or backquoted and types nest (STRUCT(...),
// MAP(K, V), UNION(...), INT64[][]), so types are kept as text up to the next
// top-level comma.

#include <algorithm>
#include <cctype>

#include "snapshot/snapshot.h"

namespace kuzusync {
namespace {

struct Statement {
  std::string text;
  uint64_t line;  // line where the statement starts
};

// Splits on ';' outside quotes, backquotes and comments.
Result<std::vector<Statement>> SplitStatements(std::string_view text, const std::string& file) {
  std::vector<Statement> out;
  std::string current;
  uint64_t line = 1;
  uint64_t start_line = 1;
  char in_quote = 0;
  uint64_t quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') ++line;
    if (in_quote != 0) {
      current += c;
      if (c == '\\' && in_quote != '`' && i + 1 < text.size()) {
        current += text[++i];
        if (text[i] == '\n') ++line;
      } else if (c == in_quote) {
        in_quote = 0;
      }
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
      if (i < text.size()) ++line;
      current += '\n';
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      in_quote = c;
      quote_line = line;
    }
    if (current.find_first_not_of(" \t\r\n") == std::string::npos &&
        !std::isspace(static_cast<unsigned char>(c))) {
      start_line = line;
    }
    if (c == ';') {
      if (current.find_first_not_of(" \t\r\n") != std::string::npos) {
        out.push_back({current, start_line});
      }
      current.clear();
      continue;
    }
    current += c;
  }
  if (in_quote != 0) {
    return Status::Corrupt(std::string("unterminated ") + in_quote + " quote", file, quote_line);
  }
  if (current.find_first_not_of(" \t\r\n") != std::string::npos) {
    out.push_back({current, start_line});
  }
  return out;
}

enum class Tok { kIdent, kQuotedIdent, kString, kPunct, kEnd };

struct Token {
  Tok kind;
  std::string text;  // identifier (unquoted), string contents, or the punctuation
};

class Tokenizer {
 public:
  Tokenizer(std::string_view text) : text_(text) {}

  Token Next() {
    SkipSpace();
    if (pos_ >= text_.size()) return {Tok::kEnd, ""};
    char c = text_[pos_];
    if (c == '`') {
      std::string ident;
      ++pos_;
      while (pos_ < text_.size()) {
        if (text_[pos_] == '`') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '`') {
            ident += '`';
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        ident += text_[pos_++];
      }
      return {Tok::kQuotedIdent, ident};
    }
    if (c == '\'' || c == '"') {
      std::string s;
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != c) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
          char e = text_[pos_ + 1];
          s += e == 't' ? '\t' : e == 'n' ? '\n' : e;
          pos_ += 2;
          continue;
        }
        s += text_[pos_++];
      }
      ++pos_;
      return {Tok::kString, s};
    }
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
        static_cast<unsigned char>(c) >= 0x80) {
      size_t start = pos_;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
              static_cast<unsigned char>(text_[pos_]) >= 0x80)) {
        ++pos_;
      }
      return {Tok::kIdent, std::string(text_.substr(start, pos_ - start))};
    }
    ++pos_;
    return {Tok::kPunct, std::string(1, c)};
  }

  Token Peek() {
    size_t saved = pos_;
    Token t = Next();
    pos_ = saved;
    return t;
  }

  // Raw text from the current position up to (not including) the next
  // top-level ',' or ')' or a bare keyword in `stops`; used for types.
  std::string TypeText() {
    SkipSpace();
    int depth = 0;
    size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '(' || c == '[') ++depth;
      if (c == ')' || c == ']') {
        if (depth == 0) break;
        --depth;
      }
      if (c == ',' && depth == 0) break;
      if (depth == 0 && std::isalpha(static_cast<unsigned char>(c)) &&
          (pos_ == start || std::isspace(static_cast<unsigned char>(text_[pos_ - 1])))) {
        std::string word = UpperWordAt(pos_);
        if (pos_ != start && (word == "PRIMARY" || word == "DEFAULT")) break;
      }
      ++pos_;
    }
    return CollapseSpace(text_.substr(start, pos_ - start));
  }

  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string UpperWordAt(size_t p) const {
    std::string w;
    while (p < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[p])) || text_[p] == '_')) {
      w += static_cast<char>(std::toupper(static_cast<unsigned char>(text_[p++])));
    }
    return w;
  }
  static std::string CollapseSpace(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : s) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        space = true;
        continue;
      }
      if (space && !out.empty()) out += ' ';
      space = false;
      out += c;
    }
    return out;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool IsKeyword(const Token& t, const char* word) {
  return t.kind == Tok::kIdent && Upper(t.text) == word;
}

bool IsIdent(const Token& t) { return t.kind == Tok::kIdent || t.kind == Tok::kQuotedIdent; }

bool IsPunct(const Token& t, char c) { return t.kind == Tok::kPunct && t.text[0] == c; }

class DdlParser {
 public:
  DdlParser(const Statement& stmt, const std::string& file)
      : tok_(stmt.text), stmt_(stmt), file_(file) {}

  void Skip(int tokens) {
    for (int i = 0; i < tokens; ++i) tok_.Next();
  }

  Status Error(const std::string& what) const {
    return Status::Corrupt(what, file_, stmt_.line);
  }

  // After CREATE NODE TABLE / CREATE REL TABLE [GROUP] [IF NOT EXISTS].
  Result<TableSchema> ParseTable(TableKind kind) {
    TableSchema table;
    table.kind = kind;
    table.ddl = stmt_.text;
    Token t = tok_.Next();
    if (IsKeyword(t, "GROUP")) t = tok_.Next();
    if (IsKeyword(t, "IF")) {
      if (!IsKeyword(tok_.Next(), "NOT") || !IsKeyword(tok_.Next(), "EXISTS")) {
        return Error("expected IF NOT EXISTS");
      }
      t = tok_.Next();
    }
    if (!IsIdent(t)) return Error("expected a table name");
    table.name = t.text;
    if (!IsPunct(tok_.Next(), '(')) return Error("expected '(' after table " + table.name);
    std::string primary_key;
    while (true) {
      Token item = tok_.Next();
      if (IsPunct(item, ')')) break;
      if (item.kind == Tok::kEnd) return Error("unterminated column list of table " + table.name);
      if (IsPunct(item, ',')) continue;
      if (kind == TableKind::kRel && IsKeyword(item, "FROM")) {
        Token from = tok_.Next();
        if (!IsIdent(from) || !IsKeyword(tok_.Next(), "TO")) return Error("expected FROM <table> TO <table>");
        Token to = tok_.Next();
        if (!IsIdent(to)) return Error("expected a table name after TO");
        table.connections.push_back({from.text, to.text});
        continue;
      }
      if (IsKeyword(item, "PRIMARY") && IsKeyword(tok_.Peek(), "KEY")) {
        tok_.Next();
        if (!IsPunct(tok_.Next(), '(')) return Error("expected '(' after PRIMARY KEY");
        Token key = tok_.Next();
        if (!IsIdent(key) || !IsPunct(tok_.Next(), ')')) return Error("bad PRIMARY KEY clause");
        primary_key = key.text;
        continue;
      }
      if (kind == TableKind::kRel && item.kind == Tok::kIdent) {
        std::string upper = Upper(item.text);
        Token after = tok_.Peek();
        if ((upper == "ONE_ONE" || upper == "ONE_MANY" || upper == "MANY_ONE" ||
             upper == "MANY_MANY") &&
            (IsPunct(after, ')') || IsPunct(after, ','))) {
          table.multiplicity = upper;
          continue;
        }
      }
      if (!IsIdent(item)) return Error("expected a column name in table " + table.name);
      Column column{item.text, tok_.TypeText()};
      if (column.type.empty()) return Error("column " + column.name + " has no type");
      // Column constraints: PRIMARY KEY inline, DEFAULT <expr>.
      while (true) {
        Token c = tok_.Peek();
        if (IsKeyword(c, "PRIMARY")) {
          tok_.Next();
          if (!IsKeyword(tok_.Next(), "KEY")) return Error("expected KEY after PRIMARY");
          primary_key = column.name;
        } else if (IsKeyword(c, "DEFAULT")) {
          tok_.Next();
          (void)tok_.TypeText();  // the default expression: not part of the row data
        } else {
          break;
        }
      }
      table.columns.push_back(std::move(column));
    }
    if (kind == TableKind::kNode) {
      if (primary_key.empty()) return Error("node table " + table.name + " has no PRIMARY KEY");
      auto it = std::find_if(table.columns.begin(), table.columns.end(),
                             [&](const Column& c) { return c.name == primary_key; });
      if (it == table.columns.end()) {
        return Error("PRIMARY KEY " + primary_key + " is not a column of " + table.name);
      }
      table.primary_key = static_cast<size_t>(it - table.columns.begin());
    } else if (table.connections.empty()) {
      return Error("rel table " + table.name + " has no FROM ... TO ...");
    }
    return table;
  }

  // COPY <table> [(cols)] FROM "<file>" [(options)]
  Result<DataFile> ParseCopy() {
    DataFile data;
    if (!IsKeyword(tok_.Next(), "COPY")) return Error("expected COPY");
    Token table = tok_.Next();
    if (!IsIdent(table)) return Error("expected a table name after COPY");
    data.table = table.text;
    Token t = tok_.Next();
    if (IsPunct(t, '(')) {
      while (!IsPunct(t, ')')) {
        t = tok_.Next();
        if (t.kind == Tok::kEnd) return Error("unterminated column list");
      }
      t = tok_.Next();
    }
    if (!IsKeyword(t, "FROM")) return Error("expected FROM in COPY " + data.table);
    Token file = tok_.Next();
    if (file.kind != Tok::kString) {
      return Error("COPY " + data.table + " reads from something other than one file");
    }
    data.path = file.text;
    t = tok_.Next();
    if (IsPunct(t, '(')) {
      while (true) {
        Token key = tok_.Next();
        if (IsPunct(key, ')')) break;
        if (IsPunct(key, ',')) continue;
        if (!IsIdent(key) || !IsPunct(tok_.Next(), '=')) return Error("bad COPY option list");
        Token value = tok_.Next();
        // Kuzu 0.11.3 writes "delim=delim='|'" for custom options; accept it.
        if (IsIdent(value) && Upper(value.text) == Upper(key.text) && IsPunct(tok_.Peek(), '=')) {
          tok_.Next();
          value = tok_.Next();
        }
        KS_RETURN_IF_ERROR(ApplyOption(Upper(key.text), value, &data));
      }
    }
    return data;
  }

 private:
  Status ApplyOption(const std::string& key, const Token& value, DataFile* data) {
    auto one_char = [&](char* out) -> Status {
      if (value.text.size() != 1) return Error("COPY option " + key + " must be one character");
      *out = value.text[0];
      return Status::Ok();
    };
    if (key == "FROM") {
      data->connection.from = value.text;
    } else if (key == "TO") {
      data->connection.to = value.text;
    } else if (key == "HEADER") {
      data->csv.header = Upper(value.text) == "TRUE";
    } else if (key == "DELIM" || key == "DELIMITER") {
      KS_RETURN_IF_ERROR(one_char(&data->csv.delimiter));
    } else if (key == "QUOTE") {
      KS_RETURN_IF_ERROR(one_char(&data->csv.quote));
    } else if (key == "ESCAPE") {
      KS_RETURN_IF_ERROR(one_char(&data->csv.escape));
    }
    // Other options (parallel, ignore_errors, ...) do not change how rows read.
    return Status::Ok();
  }

  Tokenizer tok_;
  const Statement& stmt_;
  const std::string& file_;
};

}  // namespace

Result<Schema> ParseSchema(std::string_view text, const std::string& filename) {
  KS_ASSIGN_OR_RETURN(std::vector<Statement> statements, SplitStatements(text, filename));
  Schema schema;
  for (const Statement& stmt : statements) {
    Tokenizer head(stmt.text);
    Token a = head.Next();
    Token b = head.Next();
    Token c = head.Next();
    bool create_table = IsKeyword(a, "CREATE") && IsKeyword(c, "TABLE");
    if (create_table && (IsKeyword(b, "NODE") || IsKeyword(b, "REL"))) {
      DdlParser parser(stmt, filename);
      parser.Skip(3);  // CREATE NODE|REL TABLE
      KS_ASSIGN_OR_RETURN(TableSchema table,
                          parser.ParseTable(IsKeyword(b, "NODE") ? TableKind::kNode
                                                                 : TableKind::kRel));
      if (schema.Find(table.name) != nullptr) {
        return Status::Corrupt("table " + table.name + " is declared twice", filename, stmt.line);
      }
      schema.tables.push_back(std::move(table));
    } else {
      size_t first = stmt.text.find_first_not_of(" \t\r\n");
      schema.other_statements.push_back(stmt.text.substr(first));
    }
  }
  return schema;
}

Result<std::vector<DataFile>> ParseCopyStatements(std::string_view text,
                                                  const std::string& filename) {
  KS_ASSIGN_OR_RETURN(std::vector<Statement> statements, SplitStatements(text, filename));
  std::vector<DataFile> files;
  for (const Statement& stmt : statements) {
    DdlParser parser(stmt, filename);
    KS_ASSIGN_OR_RETURN(DataFile file, parser.ParseCopy());
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace kuzusync
