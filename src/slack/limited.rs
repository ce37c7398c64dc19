//! The rate limit on Slack's inbound side ([`crate::limits`]): checked for every slash command,
//! click and form submission, over HTTP and Socket Mode alike, before the replay record and
//! before anything is read or changed. The refusal is a UI answer, never an outbox row: the
//! slash command's ephemeral reply, a form error on the submitted modal, or an ephemeral post
//! to the click's `response_url`.

use slack_morphism::prelude::*;
use tracing::Instrument;

use super::render;
use super::{SlackApp, SlackState};
use crate::core::ids::ChatUser;

/// The ephemeral "slow down" answer when `event`'s sender is over the limit.
pub fn command(app: &SlackApp, event: &SlackCommandEvent) -> Option<SlackCommandEventResponse> {
    let limited = app.limiter.check(&ChatUser::slack(event.user_id.0.clone())).err()?;
    let content = SlackMessageContent::new().with_text(limited.text());
    Some(SlackCommandEventResponse::new(content).with_response_type(SlackMessageResponseType::Ephemeral))
}

/// Who sent an interaction pimbot acts on (`None` for kinds it ignores).
fn sender(event: &SlackInteractionEvent) -> Option<ChatUser> {
    match event {
        SlackInteractionEvent::BlockActions(ev) => ev.user.as_ref().map(|u| ChatUser::slack(u.id.0.clone())),
        SlackInteractionEvent::ViewSubmission(ev) => Some(ChatUser::slack(ev.user.id.0.clone())),
        _ => None,
    }
}

/// `Some(answer)` when `event`'s sender is over the limit: a submitted form shows the refusal
/// on its first field; a click gets it as an ephemeral post to its `response_url` (sent
/// afterwards, like `views.open`), and is acknowledged without acting.
pub fn interaction(
    app: &SlackApp,
    slack: &SlackState,
    event: &SlackInteractionEvent,
) -> Option<Option<SlackViewSubmissionResponse>> {
    let limited = app.limiter.check(&sender(event)?).err()?;
    let text = limited.text();
    match event {
        SlackInteractionEvent::ViewSubmission(ev) => {
            let field = match &ev.view.view {
                SlackView::Modal(m)
                    if m.callback_id.as_ref().map(|c| c.0.as_str()) == Some(render::CALLBACK_ACTIVATE) =>
                {
                    render::FIELD_ROLE
                }
                _ => render::FIELD_REASON,
            };
            let errors = [(field.to_owned(), text)].into_iter().collect();
            Some(Some(SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors))))
        }
        SlackInteractionEvent::BlockActions(ev) => {
            if let Some(url) = ev.response_url.as_ref().map(|u| u.0.to_string()) {
                let api = slack.api.clone();
                tokio::spawn(
                    async move {
                        let content = SlackMessageContent::new().with_text(text);
                        if let Err(e) = api.respond(&url, content, false).await {
                            tracing::warn!(error = %format!("{e:#}"), "telling a clicker to slow down failed");
                        }
                    }
                    .in_current_span(),
                );
            }
            Some(None)
        }
        _ => None,
    }
}
