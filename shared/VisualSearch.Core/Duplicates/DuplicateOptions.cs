using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Duplicates;

/// <summary>Near-duplicate grouping. Section "Duplicates".</summary>
public sealed class DuplicateOptions
{
    public const string SectionName = "Duplicates";

    /// <summary>
    /// Default threshold (cosine similarity) for a near pair, used when a request names none. Chosen by measurement
    /// on the dev copy set (docs/quality.md, "Near-duplicate groups").
    /// </summary>
    [Range(-1.0, 1.0)]
    public float MinScore { get; set; } = 0.82f;

    /// <summary>
    /// The same threshold for groups made in the copy space (issue 14's dual design, <c>Encoder:CopyDescriptor=FeatureMap</c>):
    /// the feature-map descriptor's open-set threshold at 95% precision on the dev copy set (docs/quality.md section 7a).
    /// </summary>
    [Range(-1.0, 1.0)]
    public float CopyMinScore { get; set; } = 0.83f;

    /// <summary>
    /// Share of each group's items that must have a pair into the other group before two groups join through a
    /// near pair (0 = single linkage: one pair joins them). Keeps one bridge item from chaining unrelated copies.
    /// </summary>
    [Range(0.0, 1.0)]
    public float Linkage { get; set; } = 0.5f;

    /// <summary>Neighbours asked of the index per item in the self-join (more finds larger groups of copies directly).</summary>
    [Range(1, 100)]
    public int Neighbours { get; set; } = 10;

    /// <summary>Self-join queries run at once; 0 = the processor count.</summary>
    [Range(0, 256)]
    public int Parallelism { get; set; }

    /// <summary>
    /// The decisions file (not-duplicates pairs, keeps), JSON lines. Empty: <c>&lt;LocalIndex:Path&gt;/duplicates/decisions.jsonl</c>,
    /// beside (not inside) the per-model versions, so decisions survive a reindex.
    /// </summary>
    public string DecisionsPath { get; set; } = "";
}
