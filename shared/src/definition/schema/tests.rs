//! The cluster file's schema against the loader: the same keys in every mapping (both ways), and
//! the same verdict on the project's files, the README's examples and documents with the
//! mistakes `validate` reports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::definition::load::MAPPING_KEYS;
use crate::definition::parse_definition;
use crate::schema::Document;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- the keys of every mapping

/// The object schemas a subschema stands for, through `$ref`, `allOf`, `anyOf` and `oneOf`.
fn objects<'s>(root: &'s Value, schema: &'s Value) -> Vec<&'s Value> {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/definitions/"))
    {
        return objects(root, &root["definitions"][name]);
    }
    let mut out = Vec::new();
    for key in ["allOf", "anyOf", "oneOf"] {
        for choice in schema[key].as_array().into_iter().flatten() {
            out.extend(objects(root, choice));
        }
    }
    if schema.get("properties").is_some()
        || schema.get("items").is_some()
        || schema["additionalProperties"].is_object()
    {
        out.push(schema);
    }
    out
}

/// Every mapping with fixed keys the schema describes, by path in the file (as the loader's
/// table writes paths: `*` any key of a free mapping, `[]` any item of a list).
fn schema_mappings(root: &Value) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(
        root: &Value,
        schema: &Value,
        path: &str,
        out: &mut BTreeMap<String, BTreeSet<String>>,
    ) {
        for object in objects(root, schema) {
            if let Some(properties) = object["properties"].as_object() {
                assert_eq!(
                    object["additionalProperties"],
                    json!(false),
                    "`{path}`: the schema must refuse unknown keys, as the loader does"
                );
                out.entry(path.to_string())
                    .or_default()
                    .extend(properties.keys().cloned());
                for (key, sub) in properties {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(root, sub, &child, out);
                }
            }
            if object["additionalProperties"].is_object() {
                walk(
                    root,
                    &object["additionalProperties"],
                    &format!("{path}.*"),
                    out,
                );
            }
            if let Some(items) = object.get("items") {
                walk(root, items, &format!("{path}[]"), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, "", &mut out);
    out
}

#[test]
fn every_mapping_allows_the_keys_the_loader_accepts_and_no_other() {
    let schema = Document::Cluster.json_schema();
    let in_schema = schema_mappings(&schema);
    let in_loader: BTreeMap<String, BTreeSet<String>> = MAPPING_KEYS
        .iter()
        .map(|(path, keys)| {
            (
                path.to_string(),
                keys.iter().map(|k| k.to_string()).collect(),
            )
        })
        .collect();
    let fix = "keep `shared/src/definition/schema/` (the schema's types) and the loader's key lists \
               (`MAPPING_KEYS` in `shared/src/definition/load/mod.rs`) in step, then run `make schemas`";
    for (path, keys) in &in_loader {
        let Some(allowed) = in_schema.get(path) else {
            panic!("the loader reads a mapping at `{path}` that the schema lacks; {fix}");
        };
        let only_loader: Vec<_> = keys.difference(allowed).collect();
        let only_schema: Vec<_> = allowed.difference(keys).collect();
        assert!(
            only_loader.is_empty() && only_schema.is_empty(),
            "at `{path}`: keys only the loader accepts: {only_loader:?}; keys only the schema allows: {only_schema:?}; {fix}"
        );
    }
    for path in in_schema.keys() {
        assert!(
            in_loader.contains_key(path),
            "the schema describes a mapping at `{path}` the loader does not read; {fix}"
        );
    }
}

// ---------------------------------------------------------------- documents

/// A YAML document as an editor's schema validation sees it (YAML 1.2 core schema scalars).
fn yaml_to_json(text: &str) -> Value {
    fn convert(yaml: &Yaml) -> Value {
        match yaml {
            Yaml::Real(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(text.clone()), Value::Number),
            Yaml::Integer(i) => json!(i),
            Yaml::String(s) => json!(s),
            Yaml::Boolean(b) => json!(b),
            Yaml::Array(items) => Value::Array(items.iter().map(convert).collect()),
            Yaml::Hash(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match convert(k) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, convert(v))
                    })
                    .collect(),
            ),
            Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
        }
    }
    let docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("YAML: {e}\n{text}"));
    docs.first().map(convert).unwrap_or(Value::Null)
}

/// Every variable the documents use is set (to `1`, which every field that takes one accepts).
fn env(_: &str) -> Option<String> {
    Some("1".into())
}

fn loader_accepts(text: &str) -> Result<(), String> {
    parse_definition("my_cluster", Path::new("my_cluster.yml"), text, &env)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    validator
        .iter_errors(&yaml_to_json(text))
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&Document::Cluster.json_schema()).expect("a valid draft-07 schema")
}

/// The files of `clusters/` and the README's YAML examples (each a whole cluster file).
fn project_documents() -> Vec<(String, String)> {
    let mut docs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("clusters"))
        .expect("clusters/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    for file in files {
        let name = format!(
            "clusters/{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        docs.push((name, read(&file)));
    }
    let readme = read(&repo().join("README.md"));
    // Cluster files are the unindented `yaml` blocks; indented ones (a list item's) show other
    // formats, such as the simulator's WORLD.yml.
    for (i, block) in readme.split("\n```yaml\n").skip(1).enumerate() {
        let text = block.split("\n```").next().unwrap_or_default();
        docs.push((
            format!("README.md, YAML example {}", i + 1),
            format!("{text}\n"),
        ));
    }
    docs
}

#[test]
fn the_projects_files_and_the_readmes_examples_validate() {
    let validator = validator();
    let docs = project_documents();
    assert!(
        docs.iter().any(|(name, _)| name.starts_with("README")),
        "the README has YAML examples"
    );
    for (name, text) in &docs {
        loader_accepts(text).unwrap_or_else(|e| panic!("{name}: the loader refuses it: {e}"));
        let found = schema_errors(&validator, text);
        assert!(found.is_empty(), "{name}: {found:#?}");
    }
}

#[test]
fn the_original_projects_example_validates_without_the_schema_line() {
    // clusters/my_cluster.yml is the original project's example plus the editor's schema line.
    let text = read(&repo().join("clusters/my_cluster.yml"));
    let (first, original) = text.split_once('\n').expect("more than one line");
    assert!(
        first.starts_with("# yaml-language-server: $schema="),
        "clusters/my_cluster.yml starts with the editor's schema line: {first}"
    );
    loader_accepts(original).expect("the loader accepts it");
    let found = schema_errors(&validator(), original);
    assert!(found.is_empty(), "{found:#?}");
}

/// Edits of `clusters/my_cluster.yml`: `from` (which must occur) replaced by `to`.
struct Edit {
    what: &'static str,
    from: &'static str,
    to: &'static str,
}

const fn edit(what: &'static str, from: &'static str, to: &'static str) -> Edit {
    Edit { what, from, to }
}

fn apply(base: &str, e: &Edit) -> String {
    assert!(
        base.contains(e.from),
        "{}: `{}` is not in the file",
        e.what,
        e.from
    );
    base.replacen(e.from, e.to, 1)
}

/// The kinds of mistake `validate` reports that a schema can state: an unknown key, a wrong
/// type, a negative count, a value out of bounds.
const MISTAKES: &[Edit] = &[
    edit(
        "unknown key at the top",
        "enabled: true\n",
        "enabeld: true\n",
    ),
    edit(
        "unknown key in a service",
        "    min: 1  # Min number of tasks.",
        "    mni: 1",
    ),
    edit(
        "unknown key in a statistic",
        "              alias: cpu_usage",
        "              alais: cpu_usage",
    ),
    edit(
        "unknown key in an event",
        "        action: 1  # Scale up by 1",
        "        acton: 1",
    ),
    edit("wrong type: a flag", "enabled: true\n", "enabled: maybe\n"),
    edit("wrong type: a count", "max: 4", "max: four"),
    edit(
        "wrong type: a count as a list",
        "mem_buffer: 0",
        "mem_buffer: [0]",
    ),
    edit(
        "wrong type: a list as a mapping",
        "          statistics:\n            - name: Average\n              alias: cpu_usage",
        "          statistics: {name: Average, alias: cpu_usage}",
    ),
    edit(
        "wrong type: an expression as a list",
        "metric: cpu_usage\n",
        "metric: [cpu_usage]\n",
    ),
    edit(
        "wrong type: an action with a fraction",
        "action: -1  # Scale down by 1",
        "action: -0.5",
    ),
    edit(
        "negative count: the buffer",
        "cpu_buffer: 0",
        "cpu_buffer: -512",
    ),
    edit(
        "negative count: a service's min",
        "    min: 1  # Min number of tasks.",
        "    min: -1",
    ),
    edit("negative count: the group's max", "max: 4", "max: -4"),
    edit("out of bounds: a period", "period: 300", "period: 45"),
    edit(
        "out of bounds: a cooldown",
        "    min: 1  # Min number of tasks.",
        "    min: 1\n    scale_down_cooldown: -5",
    ),
    edit(
        "missing required key",
        "autoscale_group: EC2ContainerService-my_cluster-EcsInstanceAsg-AAAAA\n",
        "",
    ),
    edit(
        "an empty statistics list",
        "          statistics:\n            - name: Average\n              alias: cpu_usage",
        "          statistics: []",
    ),
    edit(
        "an unknown CloudWatch statistic",
        "- name: Average",
        "- name: Mean",
    ),
    edit("an invalid alias", "alias: cpu_usage", "alias: 2cpu"),
    edit("a URL that is not http", "url: https://", "url: ftp://"),
    edit(
        "a method that is neither GET nor POST",
        "method: GET",
        "method: PUT",
    ),
    edit(
        "an escaped reference where a number is expected",
        "max: 4",
        "max: \"%%(MAX)\"",
    ),
];

/// Valid variations: both accept them.
const VARIATIONS: &[Edit] = &[
    edit("a variable where a count is expected", "max: 4", "max: \"%(MAX_INSTANCES)\""),
    edit("a variable in a service's bounds", "    max: 3  # Max number of tasks.", "    max: \"%(WORKER_MAX)\""),
    edit("YAML 1.1 booleans", "enabled: true\n", "enabled: yes\ndry_run: off\n"),
    edit("null as absent", "cpu_buffer: 0", "cpu_buffer: null\ninstance_capacity: ~\ndry_run:"),
    edit("every new key", "min: 1\nmax: 4", "min: 1\nmax: 4\ndry_run: true\nmax_drain_per_cycle: 0\nmax_tasks_per_instance: 2\ndrain_timeout: 1800\ninstance_capacity: {cpu: 4096, memory: 7482}"),
    edit("target tracking and cooldowns", "    min: 1  # Min number of tasks.", "    min: 1\n    target_tracking: {metric: queue_length / 2, target: 10}\n    scale_up_cooldown: 0\n    scale_down_cooldown: 600.5"),
    edit("HTTP source extensions", "method: GET  # Either GET or POST", "method: post\n          headers: {Authorization: Bearer %(TOKEN), X-Count: 3}\n          timeout: 2.5"),
    edit("a statistic default", "alias: queue_length", "alias: queue_length\n              default: 0"),
    edit("a percentile and a high-resolution period", "period: 300", "period: 10"),
    edit("an event bound as a variable", "min: 10\n", "min: \"%(CPU_HIGH)\"\n"),
];

#[test]
fn the_schema_refuses_the_mistakes_validate_reports() {
    let validator = validator();
    let base = read(&repo().join("clusters/my_cluster.yml"));
    for mistake in MISTAKES {
        let text = apply(&base, mistake);
        assert!(
            loader_accepts(&text).is_err(),
            "{}: the loader accepts it",
            mistake.what
        );
        assert!(
            !schema_errors(&validator, &text).is_empty(),
            "{}: the schema accepts it",
            mistake.what
        );
    }
}

#[test]
fn the_schema_accepts_what_the_loader_accepts() {
    let validator = validator();
    let base = read(&repo().join("clusters/my_cluster.yml"));
    for variation in VARIATIONS {
        let text = apply(&base, variation);
        loader_accepts(&text)
            .unwrap_or_else(|e| panic!("{}: the loader refuses it: {e}", variation.what));
        let found = schema_errors(&validator, &text);
        assert!(found.is_empty(), "{}: {found:#?}", variation.what);
    }
}
