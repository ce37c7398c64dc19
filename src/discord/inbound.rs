//! Discord's inbound side: `POST /discord/interactions`, behind the signature middleware.
//! Payloads are parsed into serenity's [`Interaction`], translated into the same core commands
//! and service calls as Slack's, and answered inline within Discord's 3 s: the use cases are
//! short database transactions, and cards and notices leave through the outbox afterwards.
//!
//! Every reply to a person is an ephemeral interaction response (flag 64). A refused click
//! changes nothing and is answered with the service's own (user-facing) error text; internal
//! errors show only an incident id.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serenity::all::{
    ActionRowComponent, AutocompleteChoice, CommandInteraction, ComponentInteraction,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage, Interaction,
    ModalInteraction, ResolvedOption, ResolvedValue,
};

use super::DiscordApp;
use super::commands::{
    COMMAND, OPT_DURATION, OPT_JUSTIFICATION, OPT_PERSON, OPT_REASON, OPT_REQUEST, OPT_ROLE, OPT_START,
    OPT_TICKET,
};
use super::render::{
    self, ACK_PREFIX, APPROVE_PREFIX, DENY_PREFIX, DENY_REASON_PREFIX, FIELD_REASON, MAX_CONTENT,
};
use super::render_alarm;
use super::render_review::{
    RENEW_APPROVE_PREFIX, RENEW_DENY_PREFIX, REVIEW_KEEP_PREFIX, REVIEW_REMOVE_PREFIX,
};
use crate::core::command::{self, Command};
use crate::core::help::{self, Dialect};
use crate::core::ids::{AlarmId, ChatUser, RequestId, RoleKey};
use crate::core::reviews::ReviewDecision;
use crate::core::service::{Approved, Decision, Reply};
use crate::edge_errors::user_message;

/// Autocomplete answers at most this many choices (Discord's limit).
const MAX_CHOICES: usize = 25;

/// An ephemeral message reply, the core's emphasis spelled as Markdown `**bold**`, cut to
/// Discord's content limit.
pub fn ephemeral(text: impl Into<String>) -> Response {
    let text = crate::core::text::emphasis(&text.into(), "**");
    let message =
        CreateInteractionResponseMessage::new().content(render::cut(&text, MAX_CONTENT)).ephemeral(true);
    Json(CreateInteractionResponse::Message(message)).into_response()
}

fn bad_request(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, text.to_owned()).into_response()
}

/// `POST /discord/interactions`: PING, `/pim`, autocomplete, button clicks, modal submissions.
pub async fn handle_interaction(State(app): State<DiscordApp>, body: Bytes) -> Response {
    let interaction: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "invalid Discord interaction payload");
            return bad_request("payload is not a valid Discord interaction");
        }
    };
    // Over the rate limit: answered at once, before the replay record, nothing done.
    if let Some(user) = acting_user(&interaction)
        && let Err(limited) = app.limiter.check(&user)
    {
        return ephemeral(limited.text());
    }
    // A replayed interaction (same id) is answered without acting again, on any replica.
    // PING and autocomplete change nothing and are answered as always.
    if !matches!(interaction, Interaction::Ping(_) | Interaction::Autocomplete(_)) {
        match app.service.first_time(&format!("discord:interaction:{}", interaction.id())).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %interaction.id(), "replayed Discord interaction refused");
                return ephemeral("↩️ This interaction was already received; nothing was done again.");
            }
            Err(e) => return ephemeral(user_message(&e)),
        }
    }
    match interaction {
        Interaction::Ping(_) => Json(CreateInteractionResponse::Pong).into_response(),
        Interaction::Command(cmd) => slash_command(&app, &cmd).await,
        Interaction::Autocomplete(cmd) => autocomplete(&app, &cmd).await,
        Interaction::Component(click) => component(&app, &click).await,
        Interaction::Modal(submit) => modal(&app, &submit).await,
        _ => bad_request("unsupported interaction type"),
    }
}

/// Who sent an interaction that acts (a command, a click, a form); `None` for PING and
/// autocomplete, which change nothing and are not rate-limited.
fn acting_user(interaction: &Interaction) -> Option<ChatUser> {
    let user = match interaction {
        Interaction::Command(cmd) => &cmd.user,
        Interaction::Component(click) => &click.user,
        Interaction::Modal(submit) => &submit.user,
        _ => return None,
    };
    Some(ChatUser::discord(user.id.to_string()))
}

fn text_option<'a>(options: &'a [ResolvedOption<'a>], name: &str) -> Option<&'a str> {
    options.iter().find(|o| o.name == name).and_then(|o| match o.value {
        ResolvedValue::String(s) => Some(s),
        _ => None,
    })
}

/// Translates `/pim <subcommand>` and its options into a core command.
pub fn parse_command(cmd: &CommandInteraction) -> crate::core::Result<Command> {
    let unknown = || crate::core::Error::BadInput("unknown command; try `/pim help`".into());
    if cmd.data.name != COMMAND {
        return Err(unknown());
    }
    let options = cmd.data.options();
    let Some(sub) = options.first() else { return Ok(Command::Help) };
    let args: &[ResolvedOption<'_>] = match &sub.value {
        ResolvedValue::SubCommand(args) => args,
        _ => &[],
    };
    let arg = |name| text_option(args, name).unwrap_or_default();
    let draft = || {
        command::draft_from_fields(
            arg(OPT_ROLE),
            arg(OPT_DURATION),
            text_option(args, OPT_TICKET),
            arg(OPT_JUSTIFICATION),
        )
    };
    match sub.name {
        "activate" => {
            draft().and_then(|d| command::with_start(d, text_option(args, OPT_START))).map(Command::Activate)
        }
        "extend" => draft().map(Command::Extend),
        "roles" => Ok(Command::Roles),
        "status" => Ok(Command::Status),
        "deactivate" => Ok(Command::Deactivate(RoleKey(arg(OPT_ROLE).trim().to_owned()))),
        "cancel" => Ok(Command::Cancel(RequestId(arg(OPT_REQUEST).trim().to_owned()))),
        "revoke" => Ok(Command::Revoke {
            person: arg(OPT_PERSON).trim().to_owned(),
            role: RoleKey(arg(OPT_ROLE).trim().to_ascii_lowercase()),
            reason: arg(OPT_REASON).trim().to_owned(),
        }),
        "link" => Ok(Command::Link),
        "whoami" => Ok(Command::Whoami),
        "help" => Ok(Command::Help),
        "reviews" => Ok(Command::Reviews),
        "posture" => Ok(Command::Posture),
        "renew" => draft().map(Command::Renew),
        _ => Err(unknown()),
    }
}

async fn slash_command(app: &DiscordApp, cmd: &CommandInteraction) -> Response {
    let user = ChatUser::discord(cmd.user.id.to_string());
    let command = match parse_command(cmd) {
        Ok(c) => c,
        Err(e) => return ephemeral(format!("{}\n\n{}", user_message(&e), help::text(Dialect::SlashOptions))),
    };
    match app.service.run_command(&user, command).await {
        Ok(Reply::Text(text)) => ephemeral(text),
        // Discord's `activate` options are required, so there is no form to open.
        Ok(Reply::ActivateForm(_)) => ephemeral(help::text(Dialect::SlashOptions)),
        Err(e) => ephemeral(user_message(&e)),
    }
}

async fn autocomplete(app: &DiscordApp, cmd: &CommandInteraction) -> Response {
    let user = ChatUser::discord(cmd.user.id.to_string());
    let typed = cmd.data.autocomplete().filter(|o| o.name == OPT_ROLE).map(|o| o.value.to_ascii_lowercase());
    let choices: Vec<AutocompleteChoice> = match (typed, app.service.roles(&user).await) {
        (Some(typed), Ok(roles)) => roles
            .into_iter()
            .filter(|r| r.key.contains(&typed) || r.name.to_ascii_lowercase().contains(&typed))
            .take(MAX_CHOICES)
            .map(|r| AutocompleteChoice::new(render::cut(&format!("{} ({})", r.name, r.key), 100), r.key))
            .collect(),
        (_, Err(e)) => {
            tracing::debug!(error = %e, "no role suggestions for this user");
            Vec::new()
        }
        (None, _) => Vec::new(),
    };
    let response = CreateAutocompleteResponse::new().set_choices(choices);
    Json(CreateInteractionResponse::Autocomplete(response)).into_response()
}

async fn component(app: &DiscordApp, click: &ComponentInteraction) -> Response {
    let user = ChatUser::discord(click.user.id.to_string());
    let Some((action, id)) = click.data.custom_id.split_once(':') else {
        return ephemeral("⚠️ Unknown action.");
    };
    let id = RequestId(id.to_owned());
    match action {
        APPROVE_PREFIX => match app.service.approve(&user, &id).await {
            Ok(Approved::Recorded(_)) => ephemeral(format!("✅ You approved `{id}`.")),
            Ok(Approved::StepUp(text)) => ephemeral(text),
            Err(e) => ephemeral(user_message(&e)),
        },
        DENY_PREFIX => match app.service.precheck_decision(&user, &id).await {
            Ok(()) => Json(CreateInteractionResponse::Modal(render::deny_modal(id.as_str()))).into_response(),
            Err(e) => ephemeral(user_message(&e)),
        },
        ACK_PREFIX => match app.service.precheck_ack(&user, &AlarmId(id.0.clone())).await {
            Ok(_) => {
                Json(CreateInteractionResponse::Modal(render_alarm::ack_modal(id.as_str()))).into_response()
            }
            Err(e) => ephemeral(user_message(&e)),
        },
        REVIEW_KEEP_PREFIX | REVIEW_REMOVE_PREFIX => {
            let decision =
                if action == REVIEW_KEEP_PREFIX { ReviewDecision::Keep } else { ReviewDecision::Remove };
            match app.service.decide_review(&user, id.as_str(), decision).await {
                Ok(_) => ephemeral(format!("📋 Recorded: {} (`{id}`).", decision.as_str())),
                Err(e) => ephemeral(user_message(&e)),
            }
        }
        RENEW_APPROVE_PREFIX | RENEW_DENY_PREFIX => {
            match app.service.decide_renewal(&user, id.as_str(), action == RENEW_APPROVE_PREFIX).await {
                Ok(e) => ephemeral(format!("🔁 Renewal `{}` is {}.", e.id, e.state.as_str())),
                Err(e) => ephemeral(user_message(&e)),
            }
        }
        other => {
            tracing::warn!(action = other, "unknown Discord custom_id");
            ephemeral("⚠️ Unknown action.")
        }
    }
}

/// The value of the text input `field` in a modal submission.
pub fn modal_input(submit: &ModalInteraction, field: &str) -> Option<String> {
    submit
        .data
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .find_map(|c| match c {
            ActionRowComponent::InputText(input) if input.custom_id == field => input.value.clone(),
            _ => None,
        })
        .filter(|s| !s.trim().is_empty())
}

async fn modal(app: &DiscordApp, submit: &ModalInteraction) -> Response {
    let user = ChatUser::discord(submit.user.id.to_string());
    match submit.data.custom_id.split_once(':') {
        Some((DENY_REASON_PREFIX, id)) => {
            let id = RequestId(id.to_owned());
            let reason = modal_input(submit, FIELD_REASON);
            match app.service.decide(&user, &id, Decision::Deny(reason)).await {
                Ok(_) => ephemeral(format!("❌ You denied `{id}`.")),
                Err(e) => ephemeral(user_message(&e)),
            }
        }
        Some((render_alarm::ACK_REASON_PREFIX, id)) => {
            let id = AlarmId(id.to_owned());
            let reason = modal_input(submit, FIELD_REASON);
            match app.service.acknowledge(&user, &id, reason.as_deref()).await {
                Ok(_) => ephemeral(format!("✅ You acknowledged alarm `{id}`.")),
                Err(e) => ephemeral(user_message(&e)),
            }
        }
        _ => ephemeral("⚠️ Unknown form."),
    }
}
