using VisualSearch.Search;

namespace VisualSearch.UnitTests.Search;

public sealed class ResultCutoffTests
{
    private static readonly ResultCutoff.Rule GapOnly = new(MinGap: 0.05f, Fraction: null);
    private static readonly ResultCutoff.Rule FractionOnly = new(MinGap: null, Fraction: 0.9f);

    [Fact]
    public void The_gap_rule_cuts_at_the_largest_drop_when_it_is_large_enough()
    {
        float[] one = [0.95f, 0.62f, 0.60f, 0.59f, 0.58f];
        Assert.Equal(1, ResultCutoff.Apply(one, GapOnly));
        float[] three = [0.91f, 0.90f, 0.88f, 0.70f, 0.69f, 0.50f]; // the largest drop (0.69 to 0.50) wins over 0.88 to 0.70
        Assert.Equal(5, ResultCutoff.Apply(three, GapOnly));
        float[] flat = [0.70f, 0.69f, 0.67f, 0.66f, 0.64f]; // no drop of 0.05
        Assert.Equal(5, ResultCutoff.Apply(flat, GapOnly));
    }

    [Fact]
    public void The_fraction_rule_stops_below_a_share_of_the_best_score()
    {
        float[] scores = [0.80f, 0.75f, 0.73f, 0.71f, 0.60f];
        Assert.Equal(3, ResultCutoff.Apply(scores, FractionOnly)); // floor 0.72
        float[] negative = [-0.10f, -0.20f, -0.30f]; // a best score at or below 0 has no fraction to take
        Assert.Equal(3, ResultCutoff.Apply(negative, FractionOnly));
    }

    [Fact]
    public void Both_rules_together_keep_the_shorter_list_and_the_gap_is_looked_for_inside_what_the_fraction_keeps()
    {
        var both = new ResultCutoff.Rule(0.05f, 0.9f);
        float[] scores = [0.90f, 0.89f, 0.83f, 0.82f, 0.60f];
        // fraction keeps 4 (floor 0.81); inside those the largest gap is 0.89 -> 0.83 (0.06): 2 remain.
        Assert.Equal(2, ResultCutoff.Apply(scores, both));
        Assert.Equal(4, ResultCutoff.Apply(scores, FractionOnly));
        Assert.Equal(4, ResultCutoff.Apply(scores, GapOnly)); // alone, the gap rule cuts at the 0.22 drop
    }

    [Fact]
    public void Short_lists_and_no_rule_are_left_alone()
    {
        Assert.Equal(0, ResultCutoff.Apply([], ResultCutoff.Default));
        Assert.Equal(1, ResultCutoff.Apply([0.3f], ResultCutoff.Default));
        float[] scores = [0.9f, 0.1f];
        Assert.Equal(2, ResultCutoff.Apply(scores, new ResultCutoff.Rule(null, null)));
    }

    [Fact]
    public void The_default_returns_one_item_for_one_clear_match_and_keeps_a_run_of_close_scores()
    {
        float[] single = [0.93f, 0.71f, 0.70f, 0.69f, 0.69f, 0.68f, 0.68f, 0.67f, 0.66f, 0.66f];
        Assert.Equal(1, ResultCutoff.Auto(single));
        float[] run = [0.74f, 0.735f, 0.73f, 0.728f, 0.72f, 0.719f, 0.715f, 0.71f, 0.705f, 0.70f];
        Assert.Equal(10, ResultCutoff.Auto(run));
    }
}
