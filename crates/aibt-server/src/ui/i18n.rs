//! The web UI's words in English (the default) and Chinese (zh-CN), and which of the two a
//! page is in. Every label of every page is looked up here; a test checks that each key a
//! template uses exists in both languages.

mod experiments;
mod market;

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    ZhCn,
}

impl Lang {
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "zh-cn" | "zh" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// The language a browser asks for in its `Accept-Language` header, among the two the
    /// pages have: the highest q-value wins, the first listed among equals, and `q=0` means
    /// "not this one". Any Chinese (`zh`, `zh-CN`, `zh-Hans-CN`, `zh-TW`) gets the Chinese
    /// pages, the only Chinese there is. `None` when it names neither language.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u16)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let tag = parts.next().unwrap_or_default();
            let lang = match tag.split(['-', '_']).next().map(str::to_ascii_lowercase) {
                Some(primary) if primary == "en" => Lang::En,
                Some(primary) if primary == "zh" => Lang::ZhCn,
                _ => continue,
            };
            let Some(weight) = parts.find_map(quality).unwrap_or(Some(1000)) else {
                continue;
            };
            if weight > 0 && best.is_none_or(|(_, top)| weight > top) {
                best = Some((lang, weight));
            }
        }
        best.map(|(lang, _)| lang)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }
}

/// A `q=` parameter in thousandths: `Some(None)` when it is not a q-value between 0 and 1
/// (the entry is then ignored), `None` when the parameter is not `q` at all.
fn quality(param: &str) -> Option<Option<u16>> {
    let (name, value) = param.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let value: f64 = match value.trim().parse() {
        Ok(q) if (0.0..=1.0).contains(&q) => q,
        _ => return Some(None),
    };
    // Within 0..=1 the product is within 0..=1000: the cast cannot truncate.
    Some(Some((value * 1000.0).round() as u16))
}

/// The cookie that keeps a visitor's language.
pub const LANG_COOKIE: &str = "aibt_lang";

/// The page's language: the one the visitor chose with the switch (a cookie), else the one
/// their browser asks for, else English.
pub struct UiLang(pub Tr);

impl<S: Send + Sync> FromRequestParts<S> for UiLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UiLang(Tr {
            lang: page_lang(&parts.headers),
        }))
    }
}

fn page_lang(headers: &HeaderMap) -> Lang {
    chosen_lang(headers)
        .or_else(|| browser_lang(headers))
        .unwrap_or_default()
}

/// The language of the `aibt_lang` cookie.
fn chosen_lang(headers: &HeaderMap) -> Option<Lang> {
    crate::cookie(headers, LANG_COOKIE).and_then(Lang::from_code)
}

/// The language of the `Accept-Language` headers.
fn browser_lang(headers: &HeaderMap) -> Option<Lang> {
    let asked: Vec<&str> = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Lang::from_accept_language(&asked.join(","))
}

/// (key, English, Chinese).
pub const WORDS: &[(&str, &str, &str)] = &[
    // Navigation and frame.
    ("nav.backtests", "Backtests", "回测"),
    ("nav.new_backtest", "New backtest", "新建回测"),
    ("nav.compare", "Compare", "对比"),
    ("nav.templates", "Templates", "提示词模板"),
    ("nav.ai_configs", "AI configs", "AI 配置"),
    ("nav.accounts", "Accounts", "账户"),
    ("nav.market_data", "Market data", "行情数据"),
    ("nav.api", "API", "API"),
    ("footer.charts", "Charts by", "图表由"),
    (
        "footer.tagline",
        "Backtests of AI trading strategies with exact money",
        "以精确金额回测 AI 交易策略",
    ),
    // Statuses and actions.
    ("status.PENDING", "Pending", "待运行"),
    ("status.RUNNING", "Running", "运行中"),
    ("status.PAUSED", "Paused", "已暂停"),
    ("status.COMPLETED", "Completed", "已完成"),
    (
        "status.COMPLETED_WITH_ERRORS",
        "Completed with errors",
        "完成（有错误）",
    ),
    ("status.FAILED", "Failed", "失败"),
    ("status.CANCELLED", "Cancelled", "已取消"),
    ("action.BUY", "Buy", "买入"),
    ("action.SELL", "Sell", "卖出"),
    ("action.HOLD", "Hold", "持有"),
    ("action.SHORT_SELL", "Short", "做空"),
    ("action.COVER_SHORT", "Cover", "平空"),
    ("exit.SIGNAL", "Signal", "信号"),
    ("exit.STOP_LOSS", "Stop-loss", "止损"),
    ("exit.TAKE_PROFIT", "Take-profit", "止盈"),
    ("exit.TRAILING_STOP", "Trailing stop", "移动止损"),
    ("exit.MARGIN_CALL", "Margin call", "强制平仓"),
    ("exit.END", "End of period", "期末平仓"),
    ("field.exit_reason", "Exit", "平仓原因"),
    ("trade.EXECUTED", "Executed", "已成交"),
    ("trade.FAILED", "Refused", "被拒绝"),
    ("trade.PENDING", "Pending", "待处理"),
    // Buttons.
    ("button.filter", "Filter", "筛选"),
    ("button.next_page", "Next page", "下一页"),
    ("button.load_more", "Load more", "加载更多"),
    ("button.start", "Start backtest", "开始回测"),
    ("button.pause", "Pause", "暂停"),
    ("button.resume", "Resume", "继续"),
    (
        "button.resume_budget",
        "Resume with this budget",
        "按此预算继续",
    ),
    ("budget.new", "New budget", "新预算"),
    (
        "budget.help",
        "Money by the AI config's prices (2.50) or tokens (150000tokens)",
        "按 AI 配置的价格计的金额（2.50）或 token 数（150000tokens）",
    ),
    ("button.cancel", "Cancel", "取消"),
    ("button.create", "Create", "创建"),
    ("button.save", "Save", "保存"),
    ("button.preview", "Preview", "预览"),
    ("button.test", "Test connection", "测试连接"),
    ("button.upload", "Upload", "上传"),
    ("button.compare", "Compare", "对比"),
    ("button.show_prompt", "Prompt", "提示词"),
    ("button.close", "Close", "关闭"),
    ("button.export_json", "Export JSON", "导出 JSON"),
    ("button.export_trades", "Trades CSV", "交易 CSV"),
    ("button.export_decisions", "Decisions CSV", "决策 CSV"),
    ("button.export_snapshots", "Snapshots CSV", "快照 CSV"),
    ("button.edit", "Edit", "编辑"),
    ("button.chart", "Chart", "图表"),
    // Fields.
    ("field.task", "Task", "任务"),
    ("field.status", "Status", "状态"),
    ("field.symbol", "Symbol", "标的"),
    ("field.series", "Series", "行情序列"),
    ("field.strategy", "Strategy", "策略"),
    ("field.progress", "Progress", "进度"),
    ("field.return", "Return", "收益率"),
    ("field.created", "Created", "创建时间"),
    ("field.updated", "Updated", "更新时间"),
    ("field.period", "Period", "区间"),
    ("field.start_date", "Start date", "开始日期"),
    ("field.end_date", "End date", "结束日期"),
    ("field.granularity", "Granularity", "时间粒度"),
    (
        "field.interval",
        "Decide every N bars",
        "每 N 根K线决策一次",
    ),
    ("field.account", "Account", "账户"),
    (
        "field.new_account",
        "A new account with the settings below",
        "使用下列设置新建账户",
    ),
    ("field.market_type", "Market", "市场"),
    ("field.initial_balance", "Initial cash", "初始资金"),
    (
        "field.commission_rate_buy",
        "Buy commission rate",
        "买入佣金率",
    ),
    (
        "field.commission_rate_sell",
        "Sell commission rate",
        "卖出佣金率",
    ),
    ("field.tax_rate", "Tax rate (sells)", "印花税率（卖出）"),
    ("field.min_commission", "Minimum commission", "最低佣金"),
    (
        "field.short_margin_ratio",
        "Short margin ratio",
        "做空保证金比例",
    ),
    (
        "field.slippage",
        "Slippage (fraction of each fill's price)",
        "滑点（成交价的比例）",
    ),
    (
        "field.borrow_rate",
        "Borrow rate of shorts (a year)",
        "融券费率（年化）",
    ),
    ("field.fractional", "Fractional shares", "允许零股"),
    (
        "field.price_input_per_million",
        "Price of a million prompt tokens",
        "每百万输入 token 价格",
    ),
    (
        "field.price_output_per_million",
        "Price of a million completion tokens",
        "每百万输出 token 价格",
    ),
    (
        "field.params",
        "Parameters (name=value, space-separated)",
        "参数（名称=值，空格分隔）",
    ),
    ("field.template", "Prompt template", "提示词模板"),
    ("field.ai_config", "AI config", "AI 配置"),
    (
        "field.blind",
        "Blind mode (no symbol, no dates, prices rebased)",
        "盲测模式（隐藏标的与日期，价格重设基数）",
    ),
    ("field.fill", "Fill", "成交方式"),
    ("field.fill.next_open", "Next bar's open", "下一根K线开盘价"),
    ("field.fill.close", "Decision bar's close", "决策K线收盘价"),
    ("field.cache", "Decision cache", "决策缓存"),
    (
        "field.prefetch",
        "Ask ahead (decisions at once)",
        "预取（同时请求的决策数）",
    ),
    ("field.content", "Template", "模板内容"),
    ("field.description", "Description", "描述"),
    ("field.tags", "Tags", "标签"),
    ("field.name", "Name", "名称"),
    ("field.base_url", "Base URL", "接口地址"),
    ("field.model", "Model", "模型"),
    ("field.api_key", "API key", "API 密钥"),
    (
        "field.api_key_help",
        "Stored encrypted; shown masked",
        "加密存储，仅显示掩码",
    ),
    ("field.response_format", "Structured output", "结构化输出"),
    ("field.temperature", "Temperature", "温度"),
    ("field.max_tokens", "Max tokens", "最大 token 数"),
    ("field.timeout", "Timeout (s)", "超时（秒）"),
    ("field.max_concurrency", "Concurrent calls", "并发调用数"),
    ("field.knowledge_cutoff", "Knowledge cutoff", "知识截止日期"),
    ("field.replace", "Replace differing bars", "覆盖不同的K线"),
    ("field.bars", "Bars", "K线数"),
    ("field.first", "First", "首根"),
    ("field.last", "Last", "末根"),
    ("field.at", "Decision bar (date)", "决策K线（日期）"),
    ("field.time", "Time", "时间"),
    ("field.action", "Action", "动作"),
    ("field.confidence", "Confidence", "置信度"),
    ("field.reasoning", "Reasoning", "理由"),
    ("field.latency", "Latency (ms)", "耗时（毫秒）"),
    ("field.tokens", "Tokens", "Token"),
    ("field.quantity", "Quantity", "数量"),
    ("field.price", "Price", "价格"),
    ("field.amount", "Amount", "金额"),
    ("field.fees", "Fees", "费用"),
    ("field.pnl", "P&L", "盈亏"),
    ("field.reject_reason", "Why refused", "拒绝原因"),
    ("field.prompt", "Prompt sent", "发送的提示词"),
    ("field.raw_answer", "Raw answer", "原始回答"),
    ("field.thinking", "The model's thinking", "模型的思考过程"),
    ("field.reasoning_tokens", "thinking tokens", "思考 token"),
    ("field.reasoning_effort", "Reasoning effort", "推理强度"),
    ("field.decision_mode", "Decision mode", "决策方式"),
    (
        "field.decision_mode_help",
        "Tools: the model may look up bars, indicators, the account, its earlier decisions and context, then calls submit_decision; a server that refuses tools falls back to one JSON answer.",
        "工具：模型可查询 K 线、指标、账户、此前的决策和上下文，再调用 submit_decision 提交决策；服务器不支持工具时改用单次 JSON 回答。",
    ),
    ("mode.json", "One JSON answer", "单次 JSON 回答"),
    ("mode.tools", "Tools (agent)", "工具（智能体）"),
    (
        "ai.tools_refused_short",
        "tools refused: JSON",
        "不支持工具：用 JSON",
    ),
    ("field.tool_transcript", "Tool calls", "工具调用"),
    (
        "field.tools_refused",
        "The server refused tools; decisions use one JSON answer",
        "服务器不支持工具，决策改用单次 JSON 回答",
    ),
    ("field.server_default", "the server's default", "服务器默认"),
    ("field.parsed", "Parsed decision", "解析后的决策"),
    ("field.error", "Error", "错误"),
    ("field.from_cache", "From the cache", "来自缓存"),
    ("field.calls", "Calls", "调用次数"),
    ("field.key", "Key", "密钥"),
    ("field.id", "Id", "编号"),
    ("field.cash", "Cash", "现金"),
    ("field.fees_rates", "Fees", "费率"),
    // Page titles and texts.
    ("login.title", "Sign in", "登录"),
    (
        "login.help",
        "This server needs its API token (AIBT_API_TOKEN).",
        "此服务器需要 API 令牌（AIBT_API_TOKEN）。",
    ),
    ("login.token", "API token", "API 令牌"),
    ("login.wrong", "That is not the token.", "令牌不正确。"),
    ("backtests.title", "Backtests", "回测列表"),
    ("backtests.empty", "No backtests yet.", "还没有回测。"),
    ("backtests.any_status", "Any status", "全部状态"),
    ("new.title", "New backtest", "新建回测"),
    (
        "new.strategy_help",
        "A built-in rule runs without a model; a template asks the AI config's model at each decision.",
        "内置规则无需模型即可运行；模板策略在每次决策时询问 AI 配置中的模型。",
    ),
    ("new.sample", "bundled sample", "内置样本"),
    (
        "new.template_strategy",
        "Prompt template + AI config",
        "提示词模板 + AI 配置",
    ),
    ("new.none", "(none)", "（无）"),
    ("task.title", "Backtest", "回测"),
    ("task.memorisation", "Memorisation risk", "记忆风险"),
    (
        "task.memorisation_text",
        "the period ends {end} but {model}'s training data runs to {cutoff}: it may remember what happened next (consider blind mode).",
        "回测区间结束于 {end}，而 {model} 的训练数据截至 {cutoff}：模型可能记得之后发生的事（可考虑盲测模式）。",
    ),
    ("task.price", "Price and trades", "价格与交易"),
    ("task.equity", "Equity and buy & hold", "权益与买入持有"),
    ("task.drawdown", "Drawdown", "回撤"),
    ("task.statistics", "Statistics", "统计指标"),
    ("task.model", "The model", "模型"),
    ("task.decisions", "Decisions", "决策记录"),
    ("task.trades", "Trades", "交易记录"),
    (
        "task.no_decisions",
        "No decisions recorded.",
        "没有决策记录。",
    ),
    ("task.no_trades", "No trades.", "没有交易。"),
    ("task.export", "Export", "导出"),
    ("task.decision", "Decision", "决策"),
    ("task.failed_decision", "failed", "失败"),
    (
        "task.no_prompt",
        "(a built-in rule's decision: no prompt)",
        "（内置规则的决策：没有提示词）",
    ),
    ("accounts.title", "Accounts", "账户"),
    (
        "accounts.help",
        "A backtest copies an account's cash and fees; the account itself never changes.",
        "回测会复制账户的资金与费率，账户本身不会改变。",
    ),
    ("accounts.new", "New account", "新建账户"),
    ("accounts.created", "Account created", "账户已创建"),
    ("templates.title", "Prompt templates", "提示词模板"),
    ("templates.new", "New template", "新建模板"),
    ("templates.variables", "Variables", "可用变量"),
    (
        "templates.preview",
        "Preview for a real bar",
        "基于真实K线预览",
    ),
    (
        "templates.preview_help",
        "Exactly what the model receives, before spending a token.",
        "即模型将收到的内容，无需消耗 token。",
    ),
    ("templates.saved", "Saved", "已保存"),
    ("templates.deleted", "Deleted", "已删除"),
    ("ai.title", "AI configs", "AI 配置"),
    ("ai.new", "New AI config", "新建 AI 配置"),
    (
        "ai.ok",
        "The model answered with a usable decision",
        "模型返回了可用的决策",
    ),
    ("ai.not_ok", "The test failed", "测试失败"),
    ("compare.title", "Compare backtests", "对比回测"),
    (
        "compare.help",
        "Choose two to four finished backtests.",
        "选择二至四个已完成的回测。",
    ),
    ("compare.returns", "Return over time (%)", "收益率走势（%）"),
    (
        "var.symbol",
        "the symbol (ASSET in blind mode)",
        "标的代码（盲测模式下为 ASSET）",
    ),
    ("var.market", "US or COIN", "US 或 COIN"),
    (
        "var.granularity",
        "daily, hourly or minute",
        "daily、hourly 或 minute",
    ),
    (
        "var.now",
        "the decision bar's time (bar N in blind mode)",
        "决策K线时间（盲测模式下为 bar N）",
    ),
    (
        "var.bars",
        "the last bars, oldest first: time, open, high, low, close, volume, change_pct and indicators",
        "最近的K线（由旧到新）：time、open、high、low、close、volume、change_pct 及指标",
    ),
    (
        "var.indicators",
        "at the decision bar: sma_10, sma_20, sma_50, ema_12, ema_26, rsi_14, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, atr_14",
        "决策K线处的指标：sma_10、sma_20、sma_50、ema_12、ema_26、rsi_14、macd、macd_signal、macd_hist、bb_upper、bb_middle、bb_lower、atr_14",
    ),
    (
        "var.position",
        "side, quantity, avg_price, market_value, unrealized_pnl",
        "持仓：side、quantity、avg_price、market_value、unrealized_pnl",
    ),
    ("var.cash", "free cash", "可用资金"),
    ("var.equity", "total value", "总资产"),
    (
        "var.fees",
        "total paid, commission_buy, commission_sell, tax, min_commission",
        "已付费用 total、commission_buy、commission_sell、tax、min_commission",
    ),
    (
        "var.last_decisions",
        "the last decisions: time, action, confidence, reasoning",
        "最近的决策：time、action、confidence、reasoning",
    ),
    (
        "var.step",
        "the decision's number, 0 first",
        "决策序号（从 0 开始）",
    ),
    ("var.blind", "whether blind mode is on", "是否为盲测模式"),
    (
        "var.orders",
        "limit orders waiting: action, limit_price, bars_left",
        "等待成交的限价单：action、limit_price、bars_left",
    ),
    (
        "var.context",
        "dated context visible at the decision bar: date and its columns",
        "决策K线时可见的日期背景数据：date 及其各列",
    ),
    (
        "var.capacity",
        "the most buy, sell, short, cover (and a reversal) would trade now, fees included",
        "当前按含费规则最多可 buy、sell、short、cover 的数量（及反手 reversal）",
    ),
    // Statistics.
    ("stat.start", "Start", "开始"),
    ("stat.end", "End", "结束"),
    ("stat.duration", "Duration", "时长"),
    ("stat.num_bars", "Bars", "K线数"),
    (
        "stat.exposure_time_pct",
        "Exposure time [%]",
        "持仓时间占比 [%]",
    ),
    ("stat.equity_final", "Final equity", "期末权益"),
    ("stat.equity_peak", "Peak equity", "权益峰值"),
    ("stat.return_pct", "Return [%]", "收益率 [%]"),
    (
        "stat.buy_hold_return_pct",
        "Buy & hold return [%]",
        "买入持有收益率 [%]",
    ),
    ("stat.return_ann_pct", "Annual return [%]", "年化收益率 [%]"),
    (
        "stat.volatility_ann_pct",
        "Annual volatility [%]",
        "年化波动率 [%]",
    ),
    ("stat.cagr_pct", "CAGR [%]", "复合年增长率 [%]"),
    ("stat.sharpe_ratio", "Sharpe ratio", "夏普比率"),
    (
        "stat.sharpe_ratio_simple",
        "Sharpe ratio (simple)",
        "夏普比率（简单）",
    ),
    ("stat.sortino_ratio", "Sortino ratio", "索提诺比率"),
    ("stat.calmar_ratio", "Calmar ratio", "卡玛比率"),
    ("stat.max_drawdown_pct", "Max drawdown [%]", "最大回撤 [%]"),
    (
        "stat.avg_drawdown_pct",
        "Average drawdown [%]",
        "平均回撤 [%]",
    ),
    (
        "stat.max_drawdown_duration",
        "Max drawdown duration",
        "最长回撤时长",
    ),
    (
        "stat.avg_drawdown_duration",
        "Average drawdown duration",
        "平均回撤时长",
    ),
    ("stat.num_trades", "Trades", "交易次数"),
    ("stat.win_rate_pct", "Win rate [%]", "胜率 [%]"),
    ("stat.best_trade_pct", "Best trade [%]", "最佳交易 [%]"),
    ("stat.worst_trade_pct", "Worst trade [%]", "最差交易 [%]"),
    ("stat.avg_trade_pct", "Average trade [%]", "平均交易 [%]"),
    (
        "stat.max_trade_duration",
        "Max trade duration",
        "最长持仓时长",
    ),
    (
        "stat.avg_trade_duration",
        "Average trade duration",
        "平均持仓时长",
    ),
    ("stat.profit_factor", "Profit factor", "盈利因子"),
    ("stat.expectancy_pct", "Expectancy [%]", "期望收益 [%]"),
    ("stat.sqn", "SQN", "SQN"),
    ("stat.kelly_criterion", "Kelly criterion", "凯利系数"),
    ("stat.total_fees", "Total fees", "总费用"),
    ("stat.rejected_orders", "Refused orders", "被拒订单"),
    ("stat.llm_decisions", "Model decisions", "模型决策数"),
    ("stat.failed_decisions", "Failed decisions", "失败决策数"),
    ("stat.llm_calls", "LLM calls", "LLM 调用次数"),
    ("stat.cache_hits", "Cache hits", "缓存命中"),
    ("stat.prompt_tokens", "Prompt tokens", "提示 token"),
    ("stat.completion_tokens", "Completion tokens", "生成 token"),
    (
        "stat.reasoning_tokens",
        "of which thinking",
        "其中思考 token",
    ),
    (
        "stat.thinking_decisions",
        "Decisions with thinking",
        "含思考的决策数",
    ),
    (
        "stat.tool_decisions",
        "Decisions with tools",
        "使用工具的决策数",
    ),
    ("stat.tool_calls", "Tool calls", "工具调用次数"),
    ("stat.cost", "Cost", "费用"),
    (
        "stat.cost_per_decision",
        "Cost per decision",
        "每次决策费用",
    ),
    ("stat.action_mix", "Action mix", "动作分布"),
    ("task.degenerate", "One action dominates", "单一动作占主导"),
    (
        "task.degenerate_help",
        "of the decisions: the model may answer the same whatever it is shown",
        "的决策：模型可能无论看到什么都给出同样的回答",
    ),
    (
        "stat.latency_mean_ms",
        "Mean latency [ms]",
        "平均耗时 [毫秒]",
    ),
    ("stat.latency_p95_ms", "p95 latency [ms]", "p95 耗时 [毫秒]"),
    // Words the charts use (sent to the page's script).
    ("js.equity", "Equity", "权益"),
    ("js.buy_hold", "Buy & hold", "买入持有"),
    ("js.drawdown", "Drawdown %", "回撤 %"),
    ("js.no_data", "No data yet", "暂无数据"),
];

/// Every word: the pages' above and the experiments' and reports' (`experiments.rs`).
fn all_words() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    WORDS.iter().chain(experiments::WORDS).chain(market::WORDS)
}

static TABLES: LazyLock<[HashMap<&'static str, &'static str>; 2]> = LazyLock::new(|| {
    [
        all_words().map(|(k, en, _)| (*k, *en)).collect(),
        all_words().map(|(k, _, zh)| (*k, *zh)).collect(),
    ]
});

/// The words of one language, as the templates use them.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    /// The label of `key` (the key itself if it has none, which a test prevents).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let table = match self.lang {
            Lang::En => &TABLES[0],
            Lang::ZhCn => &TABLES[1],
        };
        table.get(key).copied().unwrap_or(key)
    }

    /// A label whose key is built from a prefix and a value (`status.RUNNING`).
    pub fn of(&self, prefix: &str, value: &str) -> String {
        let key = format!("{prefix}.{value}");
        match self.t(&key) {
            label if label == key => value.to_string(),
            label => label.to_string(),
        }
    }

    pub fn html_lang(&self) -> &'static str {
        self.lang.code()
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Lang::ZhCn
    }

    /// The chart words, as JSON for the page's script.
    pub fn js_json(&self) -> String {
        let words: serde_json::Map<String, serde_json::Value> = all_words()
            .filter(|(key, ..)| {
                key.starts_with("js.") || key.starts_with("action.") || key.starts_with("exit.")
            })
            .map(|(key, ..)| (key.to_string(), serde_json::Value::from(self.t(key))))
            .collect();
        // Safe inside <script>: no "</" survives.
        serde_json::Value::Object(words)
            .to_string()
            .replace("</", "<\\/")
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn every_key_is_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (key, en, zh) in all_words() {
            assert!(seen.insert(key), "{key} twice");
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
        }
    }

    #[test]
    fn a_browser_gets_the_language_it_prefers_most() {
        let pick = Lang::from_accept_language;
        assert_eq!(pick("zh-CN"), Some(Lang::ZhCn));
        assert_eq!(pick("zh"), Some(Lang::ZhCn));
        assert_eq!(pick("zh-Hans-CN;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(pick("en-US,en;q=0.9,zh-CN;q=0.8"), Some(Lang::En));
        assert_eq!(pick("EN-gb"), Some(Lang::En));
        // The q-value decides, not the order.
        assert_eq!(pick("en;q=0.5, zh-CN;q=0.7"), Some(Lang::ZhCn));
        assert_eq!(pick("en;q=0.7,zh;Q=0.5"), Some(Lang::En));
        // Among equals, the first listed.
        assert_eq!(pick("zh;q=0.8,en;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(pick("en,zh"), Some(Lang::En));
        // Languages the pages do not have are passed over.
        assert_eq!(pick("fr-FR,fr;q=0.9,zh-CN;q=0.2"), Some(Lang::ZhCn));
        assert_eq!(pick("de-DE,de;q=0.9,fr;q=0.8"), None);
        assert_eq!(pick("*"), None);
        assert_eq!(pick(""), None);
        // q=0 refuses a language; a malformed q-value drops its entry.
        assert_eq!(pick("zh;q=0,en;q=0.1"), Some(Lang::En));
        assert_eq!(pick("zh;q=0"), None);
        assert_eq!(pick("zh;q=2,en;q=0.3"), Some(Lang::En));
        assert_eq!(pick("zh;q=high"), None);
        assert_eq!(pick("zh-CN;level=1;q=0.9, en;q=0.95"), Some(Lang::En));
    }

    /// Every `tr.t("…")` of every template names a key that exists.
    #[test]
    fn every_label_a_template_uses_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("templates") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("template");
            for piece in text.split("tr.t(\"").skip(1) {
                let key = piece.split('"').next().expect("key");
                assert!(
                    all_words().any(|(k, ..)| *k == key),
                    "{}: no words for {key:?}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} labels found");
    }

    fn lang_of(headers: &[(header::HeaderName, &'static str)]) -> Lang {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(name, HeaderValue::from_static(value));
        }
        page_lang(&map)
    }

    #[test]
    fn the_switch_wins_over_the_browser_which_wins_over_english() {
        use header::{ACCEPT_LANGUAGE, COOKIE};
        const CHINESE: &str = "zh-CN,zh;q=0.9,en;q=0.8";
        assert_eq!(lang_of(&[]), Lang::En);
        assert_eq!(lang_of(&[(ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9")]), Lang::En);
        assert_eq!(lang_of(&[(ACCEPT_LANGUAGE, CHINESE)]), Lang::ZhCn);
        assert_eq!(
            lang_of(&[
                (ACCEPT_LANGUAGE, CHINESE),
                (COOKIE, "aibt_token=x; aibt_lang=en")
            ]),
            Lang::En
        );
        assert_eq!(
            lang_of(&[(ACCEPT_LANGUAGE, "en-US"), (COOKIE, "aibt_lang=zh-CN")]),
            Lang::ZhCn
        );
        // A cookie the switch did not write is no choice.
        assert_eq!(
            lang_of(&[(ACCEPT_LANGUAGE, CHINESE), (COOKIE, "aibt_lang=klingon")]),
            Lang::ZhCn
        );
    }
}
