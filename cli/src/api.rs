//! Every function's handler behind one dispatcher: what API Gateway's
//! routes do in a deployment.

use std::sync::Arc;

use check_session::CheckSession;
use create_payment_method::CreatePaymentMethod;
use create_session::CreateSession;
use create_webhook::CreateWebhook;
use ferry_chains::evm::ReceiverDerivation;
use ferry_chains::evm::balances::BalanceReader;
use ferry_domain::ChainRegistry;
use ferry_domain::UrlPolicy;
use ferry_http::cors::CorsPolicy;
use ferry_http::routes::{Endpoint, RouteMatch, route};
use ferry_http::{ApiError, Body, Context, Request, RequestExt, Response, respond_with};
use ferry_notify::WebhookSender;
use ferry_store::Store;
use test_webhook::TestWebhook;
use token_options::TokenOptions;

pub struct Api<S> {
    /// The store and clock of the handlers without other dependencies.
    cx: Context<S>,
    create_session: CreateSession<S>,
    create_payment_method: CreatePaymentMethod<S>,
    check_session: CheckSession<S>,
    token_options: TokenOptions<S>,
    create_webhook: CreateWebhook<S>,
    /// `None` when the HTTP client for test deliveries could not be built
    /// (logged when it happened): the endpoint then answers 500.
    test_webhook: Option<TestWebhook<S>>,
    cors: CorsPolicy,
}

/// `POST /v1/webhooks/{webhookId}/test`, sending under `policy`.
fn test_webhook<S: Store>(store: S, policy: UrlPolicy) -> Option<TestWebhook<S>> {
    match WebhookSender::new(policy) {
        Ok(sender) => Some(TestWebhook::new(Context::new(store), sender)),
        Err(error) => {
            let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
            tracing::error!(%cause, "{error}: test deliveries will fail");
            None
        }
    }
}

impl<S: Store> Api<S> {
    /// Token options are listed without balances until
    /// [`with_balance_readers`](Self::with_balance_readers) gives nodes.
    pub fn new(store: S, registry: Arc<ChainRegistry>, receivers: ReceiverDerivation) -> Self {
        Self {
            create_session: CreateSession::new(Context::new(store.clone()), Arc::clone(&registry)),
            create_payment_method: CreatePaymentMethod::new(Context::new(store.clone()), receivers),
            token_options: TokenOptions::new(store.clone(), registry),
            check_session: CheckSession::new(Context::new(store.clone())),
            create_webhook: CreateWebhook::new(Context::new(store.clone()), UrlPolicy::default()),
            test_webhook: test_webhook(store.clone(), UrlPolicy::default()),
            cors: CorsPolicy::servers_only(),
            cx: Context::new(store),
        }
    }

    /// Which webhook URLs `POST /v1/webhooks` accepts and test deliveries
    /// may reach; by default https to public hosts only, as
    /// `FERRY_ALLOW_INSECURE_WEBHOOKS` unset does.
    pub fn with_webhook_url_policy(mut self, policy: UrlPolicy) -> Self {
        self.create_webhook = CreateWebhook::new(Context::new(self.cx.store.clone()), policy);
        self.test_webhook = test_webhook(self.cx.store.clone(), policy);
        self
    }

    /// Reports wallet balances in token options on the readers' chains.
    pub fn with_balance_readers(mut self, readers: impl IntoIterator<Item = BalanceReader>) -> Self {
        self.token_options = self.token_options.with_balance_readers(readers);
        self
    }

    /// Looks payers' `txHash` hints up on chain at once (`check`).
    pub fn with_tx_lookup(mut self, lookup: Arc<dyn ferry_watch::TxHintLookup>) -> Self {
        self.check_session = self.check_session.with_tx_lookup(lookup);
        self
    }

    /// Which browser origins may send API keys (`--cors-allowed-origins`);
    /// by default none, as `FERRY_CORS_ALLOWED_ORIGINS` unset does.
    pub fn with_cors(mut self, cors: CorsPolicy) -> Self {
        self.cors = cors;
        self
    }

    pub fn cors(&self) -> &CorsPolicy {
        &self.cors
    }

    /// Routes `request` to its function with the path parameters filled in,
    /// as API Gateway would; unrouted requests go to the fallback.
    pub async fn dispatch(&self, request: Request) -> Response<Body> {
        let matched = route(request.method(), request.uri().path());
        let (endpoint, request) = match matched {
            RouteMatch::Found { endpoint, params } => (Some(endpoint), request.with_path_parameters(params)),
            RouteMatch::MethodNotAllowed { .. } | RouteMatch::NotFound => (None, request),
        };
        respond_with(&self.cors, request, |request| async move {
            match endpoint {
                Some(Endpoint::CreateSession) => self.create_session.handle(request).await,
                Some(Endpoint::GetSession) => get_session::handle(&self.cx, request).await,
                Some(Endpoint::CreatePaymentMethod) => self.create_payment_method.handle(request).await,
                Some(Endpoint::CheckSession) => self.check_session.handle(request).await,
                Some(Endpoint::TokenOptions) => self.token_options.handle(request).await,
                Some(Endpoint::CreateWebhook) => self.create_webhook.handle(request).await,
                Some(Endpoint::ListWebhooks) => list_webhooks::handle(&self.cx, request).await,
                Some(Endpoint::GetWebhook) => get_webhook::handle(&self.cx, request).await,
                Some(Endpoint::DeleteWebhook) => delete_webhook::handle(&self.cx, request).await,
                Some(Endpoint::TestWebhook) => match &self.test_webhook {
                    Some(function) => function.handle(request).await,
                    None => Err(ApiError::internal("the webhook HTTP client could not be built")),
                },
                Some(Endpoint::GetEvent) => get_event::handle(&self.cx, request).await,
                Some(Endpoint::OpenApi) | None => openapi::handle(request).await,
            }
        })
        .await
    }
}
