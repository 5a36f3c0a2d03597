//! Whether a spec can be approved: its tasks make sense on their own (ids unique, dependencies
//! known and acyclic, sizes bounded), and the repository's policy allows what they ask for
//! (agents, environments, paths, number of tasks). Every problem is reported, not just the first.

use std::collections::{BTreeSet, HashMap};

use super::{Planner, Spec, SpecError, Task, TaskId};
use crate::policy::{EffectivePolicy, agent_name_error, normalize_path};

/// Most tasks in any spec, whatever the policy says: bounds the work a hostile issue can cause.
pub const MAX_TASKS: usize = 100;
/// Longest task title, in characters (GitHub's issue title limit).
pub const MAX_TITLE_CHARS: usize = 256;
/// Longest task instructions, in characters.
pub const MAX_INSTRUCTIONS_CHARS: usize = 32 * 1024;
/// Most acceptance checks per task.
pub const MAX_ACCEPTANCE: usize = 20;
/// Longest acceptance check, in characters.
pub const MAX_ACCEPTANCE_CHARS: usize = 1000;
/// Most paths per task.
pub const MAX_PATHS: usize = 50;

/// Everything wrong with `spec`, on its own and under `policy`; `Ok` means it may become
/// `Validated`.
pub fn validate(spec: &Spec, policy: &EffectivePolicy) -> Result<(), Vec<SpecError>> {
    let mut errors = tasks(&spec.tasks);
    errors.extend(against_policy(spec, policy));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What is wrong with a list of tasks on its own: count, ids, titles, sizes, dependencies
/// (unknown, on itself, in a cycle), paths and agent names. Past [`MAX_TASKS`] only the count is
/// reported: nothing else of such a list is worth reading.
pub fn tasks(tasks: &[Task]) -> Vec<SpecError> {
    let mut errors = Vec::new();
    if tasks.is_empty() {
        errors.push(SpecError::NoTasks);
    }
    if tasks.len() > MAX_TASKS {
        return vec![SpecError::TooManyTasks {
            count: tasks.len(),
            limit: MAX_TASKS,
        }];
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        if !ids.insert(&task.id) {
            errors.push(SpecError::DuplicateTaskId {
                id: task.id.clone(),
            });
        }
    }
    for task in tasks {
        check_task(task, &ids, &mut errors);
    }
    errors.extend(
        cycles(tasks)
            .into_iter()
            .map(|path| SpecError::Cycle { path }),
    );
    errors
}

fn check_task(task: &Task, ids: &BTreeSet<&TaskId>, errors: &mut Vec<SpecError>) {
    let id = || task.id.clone();
    if let Some(problem) = title_problem(&task.title) {
        errors.push(SpecError::BadTitle {
            task: id(),
            problem,
        });
    }
    let texts = std::iter::once(("instructions", &task.instructions, MAX_INSTRUCTIONS_CHARS))
        .chain(
            task.acceptance
                .iter()
                .map(|check| ("an acceptance check", check, MAX_ACCEPTANCE_CHARS)),
        );
    errors.extend(texts.filter_map(|(field, text, limit)| {
        let len = text.chars().count();
        (len > limit).then(|| SpecError::TooLong {
            task: id(),
            field,
            len,
            limit,
        })
    }));
    let lists = [
        ("acceptance", task.acceptance.len(), MAX_ACCEPTANCE),
        ("paths", task.paths.len(), MAX_PATHS),
        ("depends_on", task.depends_on.len(), MAX_TASKS),
    ];
    errors.extend(
        lists
            .into_iter()
            .filter(|&(_, count, limit)| count > limit)
            .map(|(field, count, limit)| SpecError::TooMany {
                task: id(),
                field,
                count,
                limit,
            }),
    );
    for dependency in &task.depends_on {
        if *dependency == task.id {
            errors.push(SpecError::SelfDependency { task: id() });
        } else if !ids.contains(dependency) {
            errors.push(SpecError::UnknownDependency {
                task: id(),
                dependency: dependency.clone(),
            });
        }
    }
    for path in &task.paths {
        if let Err(problem) = normalize_path(path) {
            errors.push(SpecError::BadPath {
                task: id(),
                path: path.clone(),
                problem: problem.to_owned(),
            });
        }
    }
    if let Some(problem) = task.agent.as_deref().and_then(agent_name_error) {
        errors.push(SpecError::Agent {
            task: id(),
            problem,
        });
    }
}

/// Why `title` cannot be a task title, if it cannot.
pub(crate) fn title_problem(title: &str) -> Option<String> {
    let len = title.chars().count();
    if title.trim().is_empty() {
        Some("the title is empty".to_owned())
    } else if len > MAX_TITLE_CHARS {
        Some(format!(
            "the title is {len} characters long; at most {MAX_TITLE_CHARS} are allowed"
        ))
    } else if title.chars().any(char::is_control) {
        Some("the title must be one line without control characters".to_owned())
    } else {
        None
    }
}

/// Every dependency cycle among `tasks`, each as the path around it with its first task repeated
/// at the end, found in list order; a cycle through the same tasks is reported once.
fn cycles(tasks: &[Task]) -> Vec<Vec<TaskId>> {
    let mut index = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        index.entry(&task.id).or_insert(i);
    }
    let edges: Vec<Vec<usize>> = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let targets = task.depends_on.iter().filter_map(|d| index.get(d).copied());
            targets.filter(|&j| j != i).collect()
        })
        .collect();
    let mut search = CycleSearch {
        edges: &edges,
        state: vec![Visit::New; tasks.len()],
        stack: Vec::new(),
        found: Vec::new(),
    };
    for start in 0..tasks.len() {
        if search.state[start] == Visit::New {
            search.visit(start);
        }
    }
    let mut seen = BTreeSet::new();
    search
        .found
        .into_iter()
        .filter(|cycle| seen.insert(cycle.iter().copied().collect::<BTreeSet<_>>()))
        .map(|cycle| cycle.into_iter().map(|i| tasks[i].id.clone()).collect())
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnPath,
    Done,
}

struct CycleSearch<'a> {
    edges: &'a [Vec<usize>],
    state: Vec<Visit>,
    stack: Vec<usize>,
    found: Vec<Vec<usize>>,
}

impl CycleSearch<'_> {
    /// Depth-first; the depth is bounded by the number of tasks, itself bounded by validation.
    fn visit(&mut self, node: usize) {
        self.state[node] = Visit::OnPath;
        self.stack.push(node);
        for &next in &self.edges[node] {
            match self.state[next] {
                Visit::New => self.visit(next),
                Visit::OnPath => {
                    let from = self.stack.iter().position(|&n| n == next).unwrap_or(0);
                    let mut cycle = self.stack[from..].to_vec();
                    cycle.push(next);
                    self.found.push(cycle);
                }
                Visit::Done => {}
            }
        }
        self.stack.pop();
        self.state[node] = Visit::Done;
    }
}

/// What `policy` does not allow in `spec`: more tasks than `execution.max_tasks`, a planner,
/// agent or environment that is not allowed, a path agents may not change. A task with no agent
/// while the policy has no default is allowed: it waits, ready, until a default agent is set,
/// as tasks wait for runners.
pub fn against_policy(spec: &Spec, policy: &EffectivePolicy) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let limit = policy.execution.max_tasks as usize;
    if spec.tasks.len() > limit {
        errors.push(SpecError::TooManyTasks {
            count: spec.tasks.len(),
            limit,
        });
    }
    if let Planner::Agent { name } = &spec.planner
        && !policy.agents.allowed.permits(name)
    {
        errors.push(SpecError::PlannerNotAllowed { name: name.clone() });
    }
    for task in &spec.tasks {
        if let Some(agent) = task.agent.as_ref().or(policy.agents.default.as_ref())
            && !policy.agents.allowed.permits(agent)
        {
            errors.push(SpecError::Agent {
                task: task.id.clone(),
                problem: format!("the agent `{agent}` is not allowed here"),
            });
        }
        let environment = task.environment.unwrap_or(policy.execution.environment);
        if !policy.execution.environments.contains(&environment) {
            let allowed = policy.execution.environments.iter();
            errors.push(SpecError::EnvironmentNotAllowed {
                task: task.id.clone(),
                environment: environment.as_str(),
                allowed: allowed.map(|e| e.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
        for path in &task.paths {
            let Ok(normalized) = normalize_path(path) else {
                continue;
            };
            if let Some(protected) = policy.protecting(&normalized) {
                errors.push(SpecError::ProtectedPath {
                    task: task.id.clone(),
                    path: normalized.clone(),
                    protected: protected.to_owned(),
                });
            }
        }
    }
    errors
}
