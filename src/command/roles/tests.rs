use super::*;
use crate::command::{Command, RunTarget};

const PERMISSIONS: [Permission; 6] = [
    Permission::None,
    Permission::Read,
    Permission::Triage,
    Permission::Write,
    Permission::Maintain,
    Permission::Admin,
];

const PLACES: [Place; 2] = [Place::Issue, Place::PullRequest];

/// The command table of docs/commands.md, written out again by hand so the code's table is
/// checked against what is documented: (verb, least permission, works on issues, works on pull
/// requests).
const DOCUMENTED: [(Verb, Permission, bool, bool); 9] = [
    (Verb::Plan, Permission::Write, true, false),
    (Verb::Approve, Permission::Maintain, true, false),
    (Verb::Run, Permission::Write, true, false),
    (Verb::AllowUnscanned, Permission::Maintain, true, false),
    (Verb::Retry, Permission::Write, false, true),
    (Verb::Verify, Permission::Write, false, true),
    (Verb::Cancel, Permission::Write, true, true),
    (Verb::Status, Permission::Read, true, true),
    (Verb::Help, Permission::Read, true, true),
];

fn sample(verb: Verb) -> Command {
    match verb {
        Verb::Plan => Command::Plan {
            agent: None,
            instructions: None,
        },
        Verb::Approve => Command::Approve { version: None },
        Verb::Run => Command::Run {
            target: RunTarget::All,
        },
        Verb::AllowUnscanned => Command::AllowUnscanned { task: "t1".into() },
        Verb::Retry => Command::Retry { agent: None },
        Verb::Verify => Command::Verify,
        Verb::Cancel => Command::Cancel { task: None },
        Verb::Status => Command::Status,
        Verb::Help => Command::Help,
    }
}

fn user(permission: Permission) -> Requester<'static> {
    Requester {
        login: "alice",
        permission,
        teams: &[],
    }
}

#[test]
fn the_table_has_one_row_per_verb_in_order() {
    let verbs: Vec<Verb> = COMMANDS.iter().map(|s| s.verb).collect();
    assert_eq!(verbs, Verb::ALL);
}

#[test]
fn authorize_follows_the_documented_table_for_every_command_permission_and_place() {
    let overrides = RoleOverrides::default();
    for (verb, least, on_issue, on_pull) in DOCUMENTED {
        for permission in PERMISSIONS {
            for place in PLACES {
                let works_here = match place {
                    Place::Issue => on_issue,
                    Place::PullRequest => on_pull,
                };
                let expected = if permission < least {
                    Err(Refusal::NotPermitted {
                        verb,
                        needed: least,
                        have: permission,
                    })
                } else if !works_here {
                    Err(Refusal::WrongPlace {
                        verb,
                        place,
                        works_in: spec(verb).places,
                    })
                } else {
                    Ok(())
                };
                assert_eq!(
                    authorize(&sample(verb), place, &user(permission), &overrides),
                    expected,
                    "{verb} by {permission:?} on {place}"
                );
            }
        }
    }
}

#[test]
fn help_lists_exactly_what_authorize_accepts() {
    let overrides = RoleOverrides {
        min_permission: HashMap::from([(Verb::Approve, Permission::Write)]),
        ..RoleOverrides::default()
    };
    for permission in PERMISSIONS {
        for place in PLACES {
            let listed: Vec<Verb> = available_commands(place, &user(permission), &overrides)
                .iter()
                .map(|s| s.verb)
                .collect();
            let accepted: Vec<Verb> = Verb::ALL
                .into_iter()
                .filter(|v| authorize(&sample(*v), place, &user(permission), &overrides).is_ok())
                .collect();
            assert_eq!(listed, accepted, "{permission:?} on {place}");
        }
    }
}

#[test]
fn a_verb_override_changes_the_required_permission() {
    let overrides = RoleOverrides {
        min_permission: HashMap::from([
            (Verb::Approve, Permission::Admin),
            (Verb::Status, Permission::Write),
        ]),
        ..RoleOverrides::default()
    };
    let approve = Command::Approve { version: None };
    assert_eq!(
        authorize(
            &approve,
            Place::Issue,
            &user(Permission::Maintain),
            &overrides
        ),
        Err(Refusal::NotPermitted {
            verb: Verb::Approve,
            needed: Permission::Admin,
            have: Permission::Maintain
        })
    );
    assert!(authorize(&approve, Place::Issue, &user(Permission::Admin), &overrides).is_ok());
    assert!(
        authorize(
            &Command::Status,
            Place::Issue,
            &user(Permission::Read),
            &overrides
        )
        .is_err()
    );
    assert_eq!(
        required_permission(Verb::Plan, &overrides),
        Permission::Write
    );
}

#[test]
fn a_user_override_replaces_the_forge_permission_both_ways() {
    let overrides = RoleOverrides {
        users: HashMap::from([
            ("Contractor".to_string(), Permission::Maintain),
            ("former-admin".to_string(), Permission::Read),
        ]),
        ..RoleOverrides::default()
    };
    let approve = Command::Approve { version: None };
    let contractor = Requester {
        login: "contractor",
        permission: Permission::Triage,
        teams: &[],
    };
    assert!(authorize(&approve, Place::Issue, &contractor, &overrides).is_ok());
    let former = Requester {
        login: "Former-Admin",
        permission: Permission::Admin,
        teams: &[],
    };
    assert_eq!(
        authorize(&approve, Place::Issue, &former, &overrides),
        Err(Refusal::NotPermitted {
            verb: Verb::Approve,
            needed: Permission::Maintain,
            have: Permission::Read
        })
    );
}

#[test]
fn team_overrides_only_raise() {
    let overrides = RoleOverrides {
        teams: HashMap::from([
            ("acme/release".to_string(), Permission::Maintain),
            ("acme/interns".to_string(), Permission::Read),
        ]),
        ..RoleOverrides::default()
    };
    let teams = ["acme/interns".to_string(), "ACME/Release".to_string()];
    let member = Requester {
        login: "bob",
        permission: Permission::Write,
        teams: &teams,
    };
    assert_eq!(
        member.effective_permission(&overrides),
        Permission::Maintain
    );
    let interns = ["acme/interns".to_string()];
    let intern = Requester {
        login: "carol",
        permission: Permission::Write,
        teams: &interns,
    };
    assert_eq!(intern.effective_permission(&overrides), Permission::Write);
}

#[test]
fn refusals_read_as_replies() {
    let refusal = authorize(
        &Command::Approve { version: None },
        Place::Issue,
        &user(Permission::Write),
        &RoleOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "`/ade approve` needs maintain access to this repository, and you have write access."
    );
    let refusal = authorize(
        &Command::Status,
        Place::Issue,
        &user(Permission::None),
        &RoleOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "`/ade status` needs read access to this repository, and you have none."
    );
    let refusal = authorize(
        &Command::Retry { agent: None },
        Place::Issue,
        &user(Permission::Admin),
        &RoleOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "`/ade retry` works on a pull request, not on this issue."
    );
}

#[test]
fn help_for_a_maintainer_on_an_issue() {
    let text = help_text(
        Place::Issue,
        &user(Permission::Maintain),
        &RoleOverrides::default(),
    );
    assert_eq!(
        text,
        "Commands you can use on this issue:\n\
         \n\
         - `/ade plan [agent] [-- extra instructions]`: plan this goal: a new spec version from \
         the planner agent (the policy's, or the one named) or the issue's task list, validated \
         and posted as a comment\n\
         - `/ade approve [version | hash]`: activate the newest plan version you could see when \
         you commented (or the one you name); its tasks start\n\
         - `/ade run <task-id> | all`: (re)start a task of the active spec, or all of them\n\
         - `/ade allow-unscanned <task-id>`: let a task push files ade cannot scan for secrets \
         (binary, or past the scan caps); a task they blocked starts again\n\
         - `/ade cancel [task-id]`: stop runs and close their approvals as cancelled; the spec \
         stays inspectable\n\
         - `/ade status`: reply with the current state\n\
         - `/ade help`: reply with the commands you may run here\n"
    );
}

#[test]
fn help_for_a_reader_on_a_pull_request() {
    let text = help_text(
        Place::PullRequest,
        &user(Permission::Read),
        &RoleOverrides::default(),
    );
    assert_eq!(
        text,
        "Commands you can use on this pull request:\n\
         \n\
         - `/ade status`: reply with the current state\n\
         - `/ade help`: reply with the commands you may run here\n"
    );
}

#[test]
fn help_for_someone_without_access() {
    let text = help_text(
        Place::Issue,
        &user(Permission::None),
        &RoleOverrides::default(),
    );
    assert_eq!(
        text,
        "There are no ade commands you can use on this issue.\n"
    );
}

#[test]
fn usage_lines_come_from_the_table() {
    assert_eq!(spec(Verb::Retry).usage(), "/ade retry [--agent NAME]");
    assert_eq!(spec(Verb::Run).usage(), "/ade run <task-id> | all");
}
