"""Model monitoring: baselines, data-quality checks with drift, and their reports.

A baseline is the statistics of reference data and the constraints suggested from them
(``statistics.json`` and ``constraints.json``, in the managed cloud monitor's layout; see
``docs/monitoring.md``). A check compares the statistics of current data with a baseline and
lists the violations, with a drift score per feature computed from the sketches alone.

Example:
    >>> from slipway.monitoring import check_data, compute_baseline, write_report
    >>> baseline = compute_baseline("train.csv")
    >>> baseline.write("baseline/")
    >>> result = check_data("today.csv", baseline)
    >>> [(v.feature_name, v.constraint_check_type) for v in result.violations]
    [('length', 'baseline_drift_check')]
    >>> write_report(result, "report/")     # constraint_violations.json, drift.json, report.html
"""

from slipway.monitoring._baseline import (
    CONSTRAINTS_FILE,
    STATISTICS_FILE,
    Baseline,
    compute_baseline,
    statistics_of,
    table_of,
)
from slipway.monitoring._check import CheckResult, CheckType, FeatureDrift, Violation, check_data, check_statistics
from slipway.monitoring._constraints import (
    Constraints,
    DistributionConstraints,
    FeatureConstraints,
    MonitoringConfig,
    NumConstraints,
    StringConstraints,
    suggest_constraints,
)
from slipway.monitoring._distance import DEFAULT_THRESHOLDS, DriftMethod, drift_score, is_drift
from slipway.monitoring._prometheus import render_monitor_metrics
from slipway.monitoring._quality import ProblemType, QualityResult, evaluate, join_labels
from slipway.monitoring._records import (
    Alarm,
    AlarmState,
    BaselineVersion,
    ExecutionStatus,
    Monitor,
    MonitorExecution,
    MonitorKind,
)
from slipway.monitoring._report import (
    DRIFT_FILE,
    REPORT_FILE,
    VIOLATIONS_FILE,
    feature_chart,
    render_report,
    report_files,
    write_report,
)
from slipway.monitoring._report_reader import ReportReader
from slipway.monitoring._rules import CustomRule, load_rule
from slipway.monitoring._service import BaselineDocuments, MonitoringService, MonitorKindName, ProblemTypeName

__all__ = [
    "ReportReader",
    "CONSTRAINTS_FILE",
    "DEFAULT_THRESHOLDS",
    "DRIFT_FILE",
    "REPORT_FILE",
    "STATISTICS_FILE",
    "VIOLATIONS_FILE",
    "Alarm",
    "AlarmState",
    "Baseline",
    "BaselineDocuments",
    "BaselineVersion",
    "CheckResult",
    "CheckType",
    "Constraints",
    "CustomRule",
    "DistributionConstraints",
    "DriftMethod",
    "ExecutionStatus",
    "FeatureConstraints",
    "FeatureDrift",
    "Monitor",
    "MonitorExecution",
    "MonitorKind",
    "MonitorKindName",
    "MonitoringConfig",
    "MonitoringService",
    "NumConstraints",
    "ProblemType",
    "ProblemTypeName",
    "QualityResult",
    "StringConstraints",
    "Violation",
    "check_data",
    "check_statistics",
    "compute_baseline",
    "drift_score",
    "evaluate",
    "feature_chart",
    "is_drift",
    "join_labels",
    "load_rule",
    "render_monitor_metrics",
    "render_report",
    "report_files",
    "statistics_of",
    "suggest_constraints",
    "table_of",
    "write_report",
]
