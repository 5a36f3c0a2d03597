//! An approval: the pull request a task's runs push to, from its opening to its end.
//!
//! ```text
//!  Pending ──approving review on its head──▶ Approved ──new head──▶ Pending
//!    │  ▲                                      │
//!    │  └──── a new run of the task ─────┐     │
//!    ├──last attempt failed, or a human closed it unmerged──▶ Rejected
//!    ├──merged──▶ Merged          (Approved, Rejected, Closed too: a merge on the forge is a fact)
//!    └──/ade cancel──▶ Closed ──a new run of the task──▶ Pending
//! ```

use serde::{Deserialize, Serialize};

use super::State;

/// Where an approval stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Open: being verified, or waiting for a review.
    Pending,
    /// Open, with an approving review, from someone other than its requester, on its current head.
    Approved,
    /// Rejected: verification failed on the last attempt (closed, made a draft or labelled, as
    /// the policy says), or a human closed it unmerged.
    Rejected,
    /// Merged.
    Merged,
    /// Closed by `/ade cancel`.
    Closed,
}

impl ApprovalState {
    /// Whether the pull request is open on the forge as far as ade knows (a rejection that only
    /// labels or drafts it leaves it open, but no longer pending).
    pub fn awaits_review(self) -> bool {
        matches!(self, ApprovalState::Pending | ApprovalState::Approved)
    }
}

impl State for ApprovalState {
    const ALL: &'static [Self] = &[
        ApprovalState::Pending,
        ApprovalState::Approved,
        ApprovalState::Rejected,
        ApprovalState::Merged,
        ApprovalState::Closed,
    ];
    const THING: &'static str = "approval";

    fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Merged => "merged",
            ApprovalState::Closed => "closed",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use ApprovalState::*;
        matches!(
            (self, to),
            (Pending, Approved | Rejected | Merged | Closed)
                | (Approved, Pending | Rejected | Merged | Closed)
                | (Rejected, Pending | Merged | Closed)
                | (Closed, Pending | Merged)
        )
    }
}

display_by_name!(ApprovalState);

#[cfg(test)]
mod tests {
    use super::ApprovalState::*;
    use super::*;
    use crate::lifecycle::{assert_names_round_trip, moves};

    #[test]
    fn every_move_is_decided_and_merged_is_final() {
        assert_eq!(
            moves::<ApprovalState>(),
            [
                (Pending, Approved),
                (Pending, Rejected),
                (Pending, Merged),
                (Pending, Closed),
                (Approved, Pending),
                (Approved, Rejected),
                (Approved, Merged),
                (Approved, Closed),
                (Rejected, Pending),
                (Rejected, Merged),
                (Rejected, Closed),
                (Closed, Pending),
                (Closed, Merged),
            ]
        );
        let finals: Vec<_> = ApprovalState::ALL.iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [&Merged]);
        assert_names_round_trip::<ApprovalState>();
    }
}
