// Tests for schema.cypher and copy.cypher parsing, on text written by real
// Kuzu 0.11.3 (EXPORT DATABASE of the tinysnb dataset, every type).

#include <gtest/gtest.h>

#include "snapshot/snapshot.h"

namespace kuzusync {
namespace {

// schema.cypher and copy.cypher of tinysnb as exported by Kuzu 0.11.3.
constexpr const char kTinysnbSchema[] = R"CYPHER(
CREATE NODE TABLE `person` (`ID` INT64,`fName` STRING,`gender` INT64,`isStudent` BOOL,`isWorker` BOOL,`age` INT64,`eyeSight` DOUBLE,`birthdate` DATE,`registerTime` TIMESTAMP,`lastJobDuration` INTERVAL,`workedHours` INT64[],`usedNames` STRING[],`courseScoresPerTerm` INT64[][],`grades` INT64[4],`height` FLOAT,`u` UUID, PRIMARY KEY(`ID`));
CREATE NODE TABLE `organisation` (`ID` INT64,`name` STRING,`orgCode` INT64,`mark` DOUBLE,`score` INT64,`history` STRING,`licenseValidInterval` INTERVAL,`rating` DOUBLE,`state` STRUCT(revenue INT16, location STRING[], stock STRUCT(price INT64[], volume INT64)),`info` UNION(price FLOAT, movein DATE, note STRING), PRIMARY KEY(`ID`));
CREATE NODE TABLE `movies` (`name` STRING,`length` INT32,`note` STRING,`description` STRUCT(rating DOUBLE, stars INT8, views INT64, release TIMESTAMP, release_ns TIMESTAMP_NS, release_ms TIMESTAMP_MS, release_sec TIMESTAMP_SEC, release_tz TIMESTAMP_TZ, film DATE, u8 UINT8, u16 UINT16, u32 UINT32, u64 UINT64, hugedata INT128),`content` BLOB,`audience` MAP(STRING, INT64),`grade` UNION(credit BOOL, grade1 DOUBLE, grade2 INT64), PRIMARY KEY(`name`));
CREATE REL TABLE `workAt` (FROM `person` TO `organisation`, `year` INT64,`grading` DOUBLE[2],`rating` FLOAT,MANY_ONE);
CREATE REL TABLE `knows` (FROM `person` TO `person`, `date` DATE,`meetTime` TIMESTAMP,`validInterval` INTERVAL,`comments` STRING[],`summary` STRUCT(locations STRING[], transfer STRUCT(day DATE, amount INT64[])),`notes` UNION(firstmet DATE, type INT16, comment STRING),`someMap` MAP(STRING, STRING),MANY_MANY);
CREATE REL TABLE `studyAt` (FROM `person` TO `organisation`, `year` INT64,`places` STRING[],`length` INT16,`level` INT8,`code` UINT64,`temperature` UINT32,`ulength` UINT16,`ulevel` UINT8,`hugedata` INT128,MANY_ONE);
CREATE REL TABLE `meets` (FROM `person` TO `person`, `location` FLOAT[2],`times` INT32,`data` BLOB,MANY_ONE);
CREATE REL TABLE `marries` (FROM `person` TO `person`, `usedAddress` STRING[],`address` INT16[2],`note` STRING,ONE_ONE);
)CYPHER";

constexpr const char kTinysnbCopy[] = R"CYPHER(
COPY `person` (`ID`,`fName`,`gender`,`isStudent`,`isWorker`,`age`,`eyeSight`,`birthdate`,`registerTime`,`lastJobDuration`,`workedHours`,`usedNames`,`courseScoresPerTerm`,`grades`,`height`,`u`) FROM "person.csv" (parallel=true);
COPY `organisation` (`ID`,`name`,`orgCode`,`mark`,`score`,`history`,`licenseValidInterval`,`rating`,`state`,`info`) FROM "organisation.csv" (parallel=true);
COPY `movies` (`name`,`length`,`note`,`description`,`content`,`audience`,`grade`) FROM "movies.csv" (parallel=true);
COPY `workAt` (`year`,`grading`,`rating`) FROM "workAt_person_organisation.csv" (to='organisation', from='person', parallel=true);
COPY `knows` (`date`,`meetTime`,`validInterval`,`comments`,`summary`,`notes`,`someMap`) FROM "knows_person_person.csv" (to='person', from='person', parallel=true);
COPY `studyAt` (`year`,`places`,`length`,`level`,`code`,`temperature`,`ulength`,`ulevel`,`hugedata`) FROM "studyAt_person_organisation.csv" (to='organisation', from='person', parallel=true);
COPY `meets` (`location`,`times`,`data`) FROM "meets_person_person.csv" (to='person', from='person', parallel=true);
COPY `marries` (`usedAddress`,`address`,`note`) FROM "marries_person_person.csv" (to='person', from='person', parallel=true);
)CYPHER";

// The dataset's own hand-written DDL: bare identifiers, odd keyword case.
constexpr const char kTinysnbSourceSchema[] = R"CYPHER(
create node table person (ID INt64, fName StRING, gender INT64, isStudent BoOLEAN, isWorker BOOLEAN, age INT64, eyeSight DOUBLE, birthdate DATE, registerTime TIMESTAMP, lastJobDuration interval, workedHours INT64[], usedNames STRING[], courseScoresPerTerm INT64[][], grades INT64[4], height float, u UUID, PRIMARY KEY (ID));
create node table organisation (ID INT64, name STRING, orgCode INT64, mark DOUBLE, score INT64, history STRING, licenseValidInterval INTERVAL, rating DOUBLE, state STRUCT(revenue INT16, location STRING[], stock STRUCT(price INT64[], volume INT64)), info UNION(price FLOAT, movein DATE, note STRING),PRIMARY KEY (ID));
create node table movies (name STRING, length INT32, note STRING, description STRUCT(rating DOUBLE, stars INT8, views INT64, release TIMESTAMP, release_ns TIMESTAMP_NS, release_ms TIMESTAMP_MS, release_sec TIMESTAMP_SEC, release_tz TIMESTAMP_TZ, film DATE, u8 UINT8, u16 UINT16, u32 UINT32, u64 UINT64, hugedata INT128), content BYTEA, audience MAP(STRING, INT64), grade union(credit boolean, grade1 double, grade2 int64), PRIMARY KEY (name));
create rel table knows (FROM person TO person, date DATE, meetTime TIMESTAMP, validInterval INTERVAL, comments STRING[], summary STRUCT(locations STRING[], transfer STRUCT(day DATE, amount INT64[])), notes UNION(firstmet DATE, type INT16, comment STRING), someMap MAP(STRING, STRING), MANY_MAnY);
create rel table studyAt (FROM person TO organisation, year INT64, places STRING[], length INT16, level INT8, code UINT64, temperature UINT32, ulength UINT16, ulevel UINT8, hugedata INT128, MANY_ONe);
create rel table workAt (FROM person TO organisation, year INT64, grading DOUBLE[2], rating float, MANY_ONE);
create rel table meets (FROM person TO person, location FLOAT[2], times INT, data BYTEA, MANY_ONE);
create rel table marries (FROM person TO person, usedAddress STRING[], address INT16[2], note STRING, ONE_ONE);
)CYPHER";

TEST(SchemaTest, ParsesEveryTinysnbTable) {
  auto schema = ParseSchema(kTinysnbSchema, "schema.cypher");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  ASSERT_EQ(schema->tables.size(), 8u);
  const TableSchema* person = schema->Find("person");
  ASSERT_NE(person, nullptr);
  EXPECT_EQ(person->kind, TableKind::kNode);
  EXPECT_EQ(person->columns.size(), 16u);
  EXPECT_EQ(person->columns[person->primary_key].name, "ID");
  EXPECT_EQ(person->columns[12].type, "INT64[][]");
  EXPECT_EQ(person->columns[13].type, "INT64[4]");
  EXPECT_EQ(person->columns[15].type, "UUID");

  const TableSchema* org = schema->Find("organisation");
  ASSERT_NE(org, nullptr);
  EXPECT_EQ(org->columns[8].type,
            "STRUCT(revenue INT16, location STRING[], stock STRUCT(price INT64[], volume INT64))");
  EXPECT_EQ(org->columns[9].type, "UNION(price FLOAT, movein DATE, note STRING)");

  const TableSchema* movies = schema->Find("movies");
  ASSERT_NE(movies, nullptr);
  EXPECT_EQ(movies->columns[movies->primary_key].name, "name");
  EXPECT_EQ(movies->columns[4].type, "BLOB");
  EXPECT_EQ(movies->columns[5].type, "MAP(STRING, INT64)");

  const TableSchema* knows = schema->Find("knows");
  ASSERT_NE(knows, nullptr);
  EXPECT_EQ(knows->kind, TableKind::kRel);
  ASSERT_EQ(knows->connections.size(), 1u);
  EXPECT_EQ(knows->connections[0].from, "person");
  EXPECT_EQ(knows->connections[0].to, "person");
  EXPECT_EQ(knows->multiplicity, "MANY_MANY");
  EXPECT_EQ(knows->columns.size(), 7u);
  EXPECT_EQ(knows->FieldCount(), 9u);
  EXPECT_EQ(schema->Find("marries")->multiplicity, "ONE_ONE");
}

TEST(SchemaTest, BareIdentifiersAndMixedCaseKeywords) {
  auto schema = ParseSchema(kTinysnbSourceSchema, "schema.cypher");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->tables.size(), 8u);
  EXPECT_EQ(schema->Find("person")->columns[0].type, "INt64");
  EXPECT_EQ(schema->Find("knows")->multiplicity, "MANY_MANY");
  EXPECT_EQ(schema->Find("movies")->columns[6].type, "union(credit boolean, grade1 double, grade2 int64)");
}

TEST(SchemaTest, SequencesAndOtherStatementsAreCarried) {
  auto schema = ParseSchema(
      "CREATE NODE TABLE `User` (`id` SERIAL,`name` STRING, PRIMARY KEY(`id`));\n"
      "CREATE REL TABLE `LivesIn` (FROM `User` TO `City`, FROM `City` TO `City`, `since` INT64,MANY_MANY);\n"
      "DROP SEQUENCE IF EXISTS `User_id_serial`;\n"
      "CREATE SEQUENCE IF NOT EXISTS `User_id_serial` START 2 INCREMENT 1 MINVALUE 0 MAXVALUE 9223372036854775807 NO CYCLE;\n"
      "RETURN nextval('User_id_serial');\n",
      "schema.cypher");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  ASSERT_EQ(schema->tables.size(), 2u);
  EXPECT_EQ(schema->other_statements.size(), 3u);
  EXPECT_EQ(schema->Find("LivesIn")->connections.size(), 2u);
}

TEST(SchemaTest, InlinePrimaryKeyDefaultAndBackquoteEscapes) {
  auto schema = ParseSchema(
      "CREATE NODE TABLE IF NOT EXISTS `we``ird;name` (name STRING PRIMARY KEY, age INT64 DEFAULT 3, "
      "price DECIMAL(10, 2));",
      "schema.cypher");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  const TableSchema& t = schema->tables[0];
  EXPECT_EQ(t.name, "we`ird;name");
  EXPECT_EQ(t.primary_key, 0u);
  EXPECT_EQ(t.columns[1].type, "INT64");
  EXPECT_EQ(t.columns[2].type, "DECIMAL(10, 2)");
}

TEST(SchemaTest, MissingPrimaryKeyNamesFileAndLine) {
  auto schema = ParseSchema("\n\nCREATE NODE TABLE T (a INT64);", "x/schema.cypher");
  ASSERT_FALSE(schema.ok());
  EXPECT_EQ(schema.status().ToString(), "x/schema.cypher:3: node table T has no PRIMARY KEY");
}

TEST(CopyTest, ParsesFilesAndRelEndpoints) {
  auto files = ParseCopyStatements(kTinysnbCopy, "copy.cypher");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 8u);
  EXPECT_EQ(files.value()[0].table, "person");
  EXPECT_EQ(files.value()[0].path, "person.csv");
  const DataFile& knows = files.value()[4];
  EXPECT_EQ(knows.table, "knows");
  EXPECT_EQ(knows.path, "knows_person_person.csv");
  EXPECT_EQ(knows.connection.from, "person");
  EXPECT_EQ(knows.connection.to, "person");
  EXPECT_EQ(knows.csv.delimiter, ',');
  EXPECT_FALSE(knows.csv.header);
}

TEST(CopyTest, AcceptsKuzu0113DoubledOptionNames) {
  auto files = ParseCopyStatements(
      "COPY `User` (`id`,`name`) FROM \"User.csv\" (delim=delim='|', header=true, parallel=true);",
      "copy.cypher");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files.value()[0].csv.delimiter, '|');
  EXPECT_TRUE(files.value()[0].csv.header);
}

TEST(ExportTest, MissingDataFileAndParquetAreClearErrors) {
  auto env = NewMemEnv();
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/schema.cypher",
                                  "CREATE NODE TABLE T (a INT64, PRIMARY KEY(a));").ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/copy.cypher", "COPY T FROM \"T.csv\";").ok());
  auto opened = OpenExport(env.get(), "/e");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(opened.status().file(), "/e/T.csv");

  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/T.parquet", "PAR1").ok());
  opened = OpenExport(env.get(), "/e");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(opened.status().message().find("format='csv'"), std::string::npos);

  auto missing = OpenExport(env.get(), "/nowhere");
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
}

TEST(ExportTest, DataFileReaderParsesTheRestOfARowOnDemand) {
  auto env = NewMemEnv();
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/schema.cypher",
                                  "CREATE NODE TABLE T (a STRING, b STRING, c INT64, PRIMARY KEY(b));").ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/copy.cypher",
                                  "COPY T FROM \"T.csv\" (header=true, delim='|');").ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/T.csv",
                                  "a|b|c\r\nx|\"k|1\"|\"2\n3\"\r\n|k2|4").ok());
  auto opened = OpenExport(env.get(), "/e");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  DataFileReader rows;
  ASSERT_TRUE(rows.Open(env.get(), opened.value(), opened->files[0], 3, 2).ok());
  bool has_row = false;
  ASSERT_TRUE(rows.Next(&has_row).ok());
  ASSERT_TRUE(has_row);
  EXPECT_EQ(rows.field(1), "k|1");
  EXPECT_EQ(rows.line(), 2u);
  EXPECT_EQ(rows.raw(), "x|\"k|1\"|\"2\n3\"\r\n");
  EXPECT_TRUE(rows.multiline());
  RowView whole = rows.Whole();
  EXPECT_EQ(*whole.fields, (std::vector<std::string_view>{"x", "k|1", "2\n3"}));
  EXPECT_EQ(whole.raw, rows.raw());
  ASSERT_TRUE(rows.Next(&has_row).ok());
  ASSERT_TRUE(has_row);
  EXPECT_TRUE(rows.is_null(0));
  EXPECT_EQ(rows.field(1), "k2");
  EXPECT_EQ(rows.line(), 4u);
  EXPECT_EQ(rows.raw(), "|k2|4");  // no line break at the end of the file
  ASSERT_TRUE(rows.Next(&has_row).ok());
  EXPECT_FALSE(has_row);

  // A row with a field too many is an error though the field is not kept.
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/e/T.csv", "a|b|c\nx|y|1\nx|y|1|\"z\"\n").ok());
  ASSERT_TRUE(rows.Open(env.get(), opened.value(), opened->files[0], 3, 2).ok());
  ASSERT_TRUE(rows.Next(&has_row).ok());
  Status s = rows.Next(&has_row);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_EQ(s.line(), 3u);
  EXPECT_NE(s.message().find("expected 3 fields, found 4"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace kuzusync
