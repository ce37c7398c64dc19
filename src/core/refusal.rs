//! Policy refusals as values: which rule refused, which input it concerns, and the words shown.
//! Adapters place a refusal by its [`Field`] (Slack's activate form puts it under that input)
//! and show its words; nothing ever searches the words to learn what was refused, so rewording a
//! refusal cannot move it to another field.

use std::fmt;

/// An input of a request or decision that a refusal can concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The role asked for.
    Role,
    /// How long.
    Duration,
    /// The scheduled start.
    Start,
    /// The ticket reference.
    Ticket,
    /// The justification.
    Justification,
    /// A deny or acknowledgement reason.
    Reason,
}

impl Field {
    /// Lower-case name, as refusals word it ("the justification is …").
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Role => "role",
            Field::Duration => "duration",
            Field::Start => "start",
            Field::Ticket => "ticket",
            Field::Justification => "justification",
            Field::Reason => "reason",
        }
    }
}

/// The rule behind a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The duration lies outside the role's `min_duration..=max_duration`.
    DurationBounds,
    /// The role needs a justification and none was given.
    JustificationRequired,
    /// The role needs a ticket and none was given.
    TicketRequired,
    /// A typed input is longer than allowed (`[limits] max_justification`, the ticket limit).
    TooLong(Field),
    /// The scheduled start is in the past or further ahead than the role allows.
    StartWindow,
    /// The requester's eligibility ends before the scheduled start.
    EligibleUntilStart,
    /// A scheduled start cannot extend a role already held.
    ScheduledExtension,
    /// The person already has an open request for the role.
    OpenRequest,
    /// The role must be held for its minimum before it can be deactivated.
    MinimumHold,
    /// The eligibility cannot be renewed as asked (permanent, or too far).
    Renewal,
    /// A sign-in (MFA step-up, account link) is needed but cannot happen here.
    SignIn,
    /// The access-review item cannot be decided now (not due yet, or closed).
    ReviewWindow,
}

impl Rule {
    /// The input this rule concerns, if it concerns one.
    pub fn field(self) -> Option<Field> {
        match self {
            Rule::DurationBounds => Some(Field::Duration),
            Rule::JustificationRequired => Some(Field::Justification),
            Rule::TicketRequired => Some(Field::Ticket),
            Rule::TooLong(field) => Some(field),
            Rule::StartWindow | Rule::EligibleUntilStart | Rule::ScheduledExtension => Some(Field::Start),
            Rule::OpenRequest => Some(Field::Role),
            Rule::MinimumHold | Rule::Renewal | Rule::SignIn | Rule::ReviewWindow => None,
        }
    }
}

/// One refusal: the rule that refused and the words a person is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub rule: Rule,
    /// What the person is told.
    pub words: String,
}

impl Violation {
    /// A refusal by `rule` worded `words`.
    pub fn new(rule: Rule, words: impl Into<String>) -> Self {
        Self { rule, words: words.into() }
    }

    /// The input it concerns, if any.
    pub fn field(&self) -> Option<Field> {
        self.rule.field()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words)
    }
}
