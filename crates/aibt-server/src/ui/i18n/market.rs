//! The words of the market data page (imports with their preview and column choices, context
//! files, downloads), in English and Chinese (zh-CN): (key, English, Chinese), as in the main
//! table.

pub const WORDS: &[(&str, &str, &str)] = &[
    ("field.file", "File", "文件"),
    ("market.title", "Market data", "行情数据"),
    ("market.upload", "Import a bar file", "导入K线文件"),
    (
        "market.upload_help",
        "CSV (comma, semicolon or tab; UTF-8 or GBK) or Excel (.xlsx, .xls), exported from anywhere: English or Chinese headers (日期, 开盘, 最高, 最低, 收盘, 成交量) are recognised, title lines above the header are skipped. Choose a file to see how it reads and which column is which; change any column below before importing. One bad row refuses the file and names its line and column.",
        "CSV（逗号、分号或制表符分隔；UTF-8 或 GBK 编码）或 Excel（.xlsx、.xls），来自任何软件的导出均可：自动识别英文或中文表头（日期、开盘、最高、最低、收盘、成交量），并跳过表头上方的标题行。选择文件后可预览读取结果及各列对应关系，导入前可在下方修改任一列。任何一行有误都会拒绝整个文件并指出行号和列名。",
    ),
    ("market.imported", "Imported", "已导入"),
    ("market.context", "Import dated context", "导入日期背景数据"),
    (
        "market.context_help",
        "CSV or Excel: a date column (2025-01-01 or 2025年1月1日) and any text or number columns, such as a trend label or a sentiment score. A prompt shows an item from the end of its day (or its published_at): a daily decision sees yesterday's. One bad or repeated date refuses the file and names its line.",
        "CSV 或 Excel：一个日期列（2025-01-01 或 2025年1月1日）以及任意文本或数值列，如趋势标签、情绪分数。条目在其日期结束后（或其 published_at 之后）才出现在提示词中：日线决策最多看到昨天的数据。任何日期有误或重复都会拒绝整个文件并指出行号。",
    ),
    ("market.context_items", "items", "条"),
    (
        "field.context_file",
        "CSV or Excel file",
        "CSV 或 Excel 文件",
    ),
    ("market.refused", "Refused", "已拒绝"),
    ("market.empty", "No series stored yet.", "还没有行情数据。"),
    // The preview of a bar file and its column choices.
    ("preview.title", "How the file reads", "文件读取预览"),
    ("preview.csv", "CSV", "CSV"),
    ("preview.excel", "Excel workbook", "Excel 工作簿"),
    ("preview.encoding", "Encoding", "编码"),
    ("preview.delimiter", "Delimiter", "分隔符"),
    ("preview.sheet", "Sheet", "工作表"),
    ("preview.header_line", "Header on line", "表头所在行"),
    ("preview.columns", "Which column is which", "列对应关系"),
    ("preview.none", "— none —", "— 无 —"),
    (
        "preview.ready",
        "Every column is found: ready to import.",
        "已找到所有列，可以导入。",
    ),
    (
        "preview.problem",
        "Choose the missing columns",
        "请选择缺少的列",
    ),
    ("role.time", "Time", "时间"),
    ("role.open", "Open", "开盘"),
    ("role.high", "High", "最高"),
    ("role.low", "Low", "最低"),
    ("role.close", "Close", "收盘"),
    ("role.volume", "Volume (optional)", "成交量（可选）"),
    ("field.close_choice", "Which close", "使用哪个收盘价"),
    (
        "close.raw",
        "Raw close (as traded)",
        "原始收盘价（实际成交）",
    ),
    (
        "close.adjusted",
        "Adjusted close (open, high, low scaled alike)",
        "复权收盘价（开盘、最高、最低同比例调整）",
    ),
    ("close.ask", "— choose —", "— 请选择 —"),
    // Downloads.
    ("market.fetch", "Download bars", "下载K线"),
    (
        "market.fetch_help",
        "From Yahoo Finance (US stocks; daily prices split- and dividend-adjusted unless you untick it) or Binance (crypto). A range already downloaded comes from the local cache without a request; nothing is stored unless every bar of the range arrived and passed the same checks as an import.",
        "从 Yahoo Finance（美股；日线默认为拆股和分红复权价，可取消勾选）或币安（加密货币）下载。已下载过的区间直接从本地缓存读取，不再请求；只有整个区间的K线全部下载并通过与导入相同的检查后才会保存。",
    ),
    ("field.source", "Source", "数据源"),
    ("field.start_day", "First day", "开始日期"),
    ("field.end_day", "Last day", "结束日期"),
    (
        "field.adjusted",
        "Adjusted prices (Yahoo daily)",
        "复权价格（Yahoo 日线）",
    ),
    ("button.fetch", "Download", "下载"),
    ("market.fetched", "Downloaded", "已下载"),
    ("market.requests", "requests", "次请求"),
    ("field.series_source", "Source", "来源"),
];
