//! The map in docs/architecture.md holds: ade's top-level modules import each other in one
//! direction only (no two of them reach each other, however indirectly), and `forge/`, the forge
//! vocabulary and clients, imports nothing of ade's but the few bottom modules it names.
//!
//! Imports are read from the source as text (`crate::<module>` outside comments and outside a
//! file's trailing `#[cfg(test)] mod tests`), the way a reader of the code sees them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, test-only files left out.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" {
                found.extend(sources(&path));
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.starts_with("test_") {
            found.push(path);
        }
    }
    found
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let first = file.strip_prefix(src).unwrap().components().next().unwrap();
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// The modules each module imports, with one file that does, for the message.
fn imports() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in sources(&src) {
        let module = module_of(&src, &file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let targets = graph.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    targets
                        .entry(name)
                        .or_insert_with(|| file.strip_prefix(&src).unwrap().to_path_buf());
                }
            }
        }
    }
    graph
}

/// A path of imports from `from` back to `from`, if there is one.
fn cycle_through(
    graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
    from: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flat_map(|t| t.keys()) {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_top_level_module_imports_back_up() {
    let graph = imports();
    assert!(graph.len() > 20, "read the modules: {:?}", graph.keys());
    for module in graph.keys() {
        if let Some(cycle) = cycle_through(&graph, module) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|pair| {
                    format!(
                        "{} -> {} ({})",
                        pair[0],
                        pair[1],
                        graph[&pair[0]][&pair[1]].display()
                    )
                })
                .collect();
            panic!(
                "modules import each other in a circle:\n  {}",
                steps.join("\n  ")
            );
        }
    }
}

#[test]
fn forge_imports_nothing_of_ade_above_it() {
    let graph = imports();
    let allowed = ["secret", "clock", "backoff"];
    let above: Vec<String> = graph["forge"]
        .iter()
        .filter(|(target, _)| !allowed.contains(&target.as_str()))
        .map(|(target, file)| format!("{target} ({})", file.display()))
        .collect();
    assert!(
        above.is_empty(),
        "forge/ imports {above:?}; it may import only {allowed:?}"
    );
}
