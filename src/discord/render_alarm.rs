//! Break-glass alarms on Discord: `@everyone` with `allowed_mentions` set so the ping really
//! happens, the sign-in details in an embed, and an `ack:<alarm-id>` button until someone
//! acknowledges with a reason (then the message is edited: no button, who/when/why shown).

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateInputText, CreateModal,
    InputTextStyle,
};

use super::render::{
    ACK_PREFIX, EmbedText, FIELD_REASON, GREEN, MAX_FIELD_VALUE, RED, Rendered, defuse, person, user_text,
};
use crate::core::view::{AlarmStatus, AlarmView};

/// Custom id prefix of the acknowledge form (`ack_reason:<alarm-id>`).
pub const ACK_REASON_PREFIX: &str = "ack_reason";

/// Renders one page of an alarm.
pub fn alarm(view: &AlarmView) -> Rendered {
    let opt = |v: &Option<String>| v.as_deref().map(|v| user_text(v, 300)).unwrap_or_else(|| "—".into());
    let mut fields = vec![
        ("Account".to_owned(), user_text(&view.account, 300), true),
        ("When".to_owned(), view.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(), true),
        ("IP".to_owned(), opt(&view.ip), true),
        ("Location".to_owned(), opt(&view.location), true),
        ("App".to_owned(), opt(&view.app), true),
        ("Client".to_owned(), opt(&view.client), true),
        ("Conditional Access".to_owned(), opt(&view.ca_status), true),
        (
            "Result".to_owned(),
            if view.succeeded { "signed in".into() } else { "failed attempt (lower severity)".into() },
            true,
        ),
        ("Severity".to_owned(), view.severity.clone(), true),
        ("Page".to_owned(), view.page.to_string(), true),
    ];
    if let Some(count) = view.count_line() {
        fields.push(("Sign-ins".to_owned(), count, false));
    }
    let (open, colour) = match &view.status {
        AlarmStatus::Open => (true, RED),
        AlarmStatus::Acknowledged { by, at, reason } => {
            let line = format!(
                "by {} at {}: {}",
                person(by),
                at.format("%H:%M UTC"),
                user_text(reason, MAX_FIELD_VALUE)
            );
            fields.push(("Acknowledged".to_owned(), line, false));
            (false, GREEN)
        }
    };
    let embed =
        EmbedText { title: "🚨 Break-glass sign-in".into(), description: defuse(&view.headline), fields }
            .fit();
    let content = if open {
        format!("@everyone 🚨 {}", defuse(&view.headline))
    } else {
        format!("✅ Acknowledged: {}", defuse(&view.headline))
    };
    Rendered {
        content: super::render::cut(&content, super::render::MAX_CONTENT),
        embeds: vec![embed.build(colour)],
        components: if open {
            vec![CreateActionRow::Buttons(vec![
                CreateButton::new(format!("{ACK_PREFIX}:{}", view.alarm_id))
                    .label("Acknowledge")
                    .style(ButtonStyle::Danger),
            ])]
        } else {
            Vec::new()
        },
        allowed_mentions: CreateAllowedMentions::new().everyone(open),
    }
}

/// The form asking why a break-glass sign-in is acknowledged.
pub fn ack_modal(alarm_id: &str) -> CreateModal {
    let input = CreateInputText::new(InputTextStyle::Paragraph, "Reason", FIELD_REASON)
        .placeholder("Who used the account, and why?")
        .max_length(1000)
        .required(true);
    CreateModal::new(format!("{ACK_REASON_PREFIX}:{alarm_id}"), "Acknowledge alarm")
        .components(vec![CreateActionRow::InputText(input)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::AlarmId;
    use crate::core::view::PersonRef;
    use chrono::Utc;

    fn view(status: AlarmStatus) -> AlarmView {
        AlarmView {
            alarm_id: AlarmId::from("a-1"),
            headline: "bg1@contoso.com signed in".into(),
            account: "bg1@contoso.com".into(),
            at: Utc::now(),
            ip: Some("203.0.113.7".into()),
            location: None,
            app: Some("Azure Portal".into()),
            client: None,
            ca_status: Some("notApplied".into()),
            succeeded: true,
            severity: "high".into(),
            page: 1,
            status,
            signins: 1,
            first_at: None,
        }
    }

    #[test]
    fn an_open_alarm_pings_everyone_and_carries_the_ack_button() {
        let json = serde_json::to_value(alarm(&view(AlarmStatus::Open)).create(None)).expect("json");
        assert!(json["content"].as_str().unwrap_or_default().starts_with("@everyone"), "{json}");
        assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!(["everyone"]), "{json}");
        assert_eq!(json["components"][0]["components"][0]["custom_id"], "ack:a-1");
    }

    #[test]
    fn an_acknowledged_alarm_has_no_button_and_says_who_and_why() {
        let by = PersonRef { name: "dave".into(), chat_id: Some("444".into()) };
        let json = serde_json::to_value(
            alarm(&view(AlarmStatus::Acknowledged { by, at: Utc::now(), reason: "drill".into() }))
                .create(None),
        )
        .expect("json");
        assert!(json["components"].as_array().is_none_or(|c| c.is_empty()), "{json}");
        assert!(json.to_string().contains("drill") && json.to_string().contains("<@444>"), "{json}");
        assert!(!json["content"].as_str().unwrap_or_default().contains("@everyone"));
    }
}
