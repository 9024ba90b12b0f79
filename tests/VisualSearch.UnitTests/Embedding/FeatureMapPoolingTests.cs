using VisualSearch.Embedding;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>Average and GeM pooling and the R-MAC region grid on small hand-made maps (issue 14).</summary>
public sealed class FeatureMapPoolingTests
{
    // 2 channels of 2 x 3: channel 0 = 0..5, channel 1 = all 2.
    private static readonly float[] Map = [0, 1, 2, 3, 4, 5, 2, 2, 2, 2, 2, 2];

    [Fact]
    public void Average_is_the_mean_of_each_channel()
    {
        Assert.Equal([2.5f, 2f], FeatureMapPooling.PoolAll(Map, 2, 2, 3, PoolingMethod.Average, 1));
    }

    [Fact]
    public void GeM_is_the_cube_root_of_the_mean_cube()
    {
        var gem = FeatureMapPooling.PoolAll(Map, 2, 2, 3, PoolingMethod.GeM, 3);
        var expected = (float)Math.Cbrt((0 + 1 + 8 + 27 + 64 + 125) / 6.0);
        Assert.Equal(expected, gem[0], 1e-5f);
        Assert.Equal(2f, gem[1], 1e-5f); // a constant channel pools to itself whatever p is
        Assert.True(gem[0] > 2.5f && gem[0] < 5f, "GeM lies between the mean and the maximum");
    }

    [Fact]
    public void GeM_with_p_1_is_the_average_and_grows_towards_the_maximum_with_p()
    {
        var average = FeatureMapPooling.PoolAll(Map, 2, 2, 3, PoolingMethod.Average, 1);
        var gem1 = FeatureMapPooling.PoolAll(Map, 2, 2, 3, PoolingMethod.GeM, 1);
        Assert.Equal(average[0], gem1[0], 1e-5f);
        Assert.Equal(average[1], gem1[1], 1e-5f);
        var gem16 = FeatureMapPooling.PoolAll(Map, 2, 2, 3, PoolingMethod.GeM, 16);
        Assert.InRange(gem16[0], 4.4f, 5f);
    }

    [Fact]
    public void A_region_pools_only_its_cells()
    {
        var destination = new float[2];
        FeatureMapPooling.Pool(Map, 2, 2, 3, new MapRect(1, 0, 2, 2), PoolingMethod.Average, 1, destination);
        Assert.Equal((1 + 2 + 4 + 5) / 4f, destination[0]);
        FeatureMapPooling.Pool(Map, 2, 2, 3, new MapRect(2, 1, 1, 1), PoolingMethod.GeM, 3, destination);
        Assert.Equal(5f, destination[0], 1e-5f);
    }

    [Fact]
    public void Masked_pooling_uses_only_the_kept_cells_and_all_of_them_when_none_is_kept()
    {
        var destination = new float[2];
        FeatureMapPooling.PoolCells(Map, 2, 2, 3, [false, true, false, false, false, true], PoolingMethod.Average, 1, destination);
        Assert.Equal((1 + 5) / 2f, destination[0]);
        FeatureMapPooling.PoolCells(Map, 2, 2, 3, [false, true, false, false, false, true], PoolingMethod.GeM, 3, destination);
        Assert.Equal((float)Math.Cbrt((1 + 125) / 2.0), destination[0], 1e-5f);
        Assert.Equal(2f, destination[1], 1e-5f);
        FeatureMapPooling.PoolCells(Map, 2, 2, 3, new bool[6], PoolingMethod.Average, 1, destination);
        Assert.Equal(FeatureMapPooling.PoolAll(Map, 2, 2, 3, PoolingMethod.Average, 1), destination.ToArray());
        Assert.Throws<ArgumentException>(() => FeatureMapPooling.PoolCells(Map, 2, 2, 3, new bool[5], PoolingMethod.Average, 1, destination));
    }

    [Fact]
    public void A_cell_is_flat_when_no_channel_of_its_block_varies_beyond_the_tolerance()
    {
        // 4 x 2 pixels over a 2 x 1 map: the left block white with JPEG-like noise of 3, the right block white and one red pixel.
        byte[] rgb =
        [
            255, 255, 255, 252, 254, 255, 0, 0, 0, 0, 0, 0,
            254, 255, 253, 255, 255, 255, 0, 0, 0, 0, 0, 0,
        ];
        for (var i = 6; i < 12; i++) rgb[i] = 255;
        for (var i = 18; i < 24; i++) rgb[i] = 255;
        rgb[21] = 255; rgb[22] = 0; rgb[23] = 0; // one red pixel in the right block
        Assert.Equal([false, true], FeatureMapPooling.NonFlatCells(rgb, 4, 2, 2, 1, tolerance: 8));
        Assert.Equal([true, true], FeatureMapPooling.NonFlatCells(rgb, 4, 2, 2, 1, tolerance: 2));
        Assert.Throws<ArgumentException>(() => FeatureMapPooling.NonFlatCells(rgb, 4, 3, 2, 1, 8));
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        var destination = new float[2];
        Assert.Throws<ArgumentOutOfRangeException>(() => FeatureMapPooling.Pool(Map, 2, 2, 3, new MapRect(2, 0, 2, 1), PoolingMethod.Average, 1, destination));
        Assert.Throws<ArgumentException>(() => FeatureMapPooling.Pool(Map, 2, 3, 3, new MapRect(0, 0, 1, 1), PoolingMethod.Average, 1, destination));
        Assert.Throws<ArgumentOutOfRangeException>(() => FeatureMapPooling.Pool(Map, 2, 2, 3, new MapRect(0, 0, 1, 1), PoolingMethod.GeM, 0.5f, destination));
    }

    [Theory]
    [InlineData(9, 3, new[] { 5, 3, 2 })]   // 288 px: half, a third, a fifth of the shorter side
    [InlineData(7, 3, new[] { 4, 2, 1 })]   // 224 px
    [InlineData(7, 2, new[] { 4, 1 })]
    [InlineData(1, 3, new[] { 1 })]         // a map of one cell has one region size
    public void Region_sides_go_from_half_to_a_fifth_of_the_shorter_side(int shorter, int scales, int[] expected) =>
        Assert.Equal(expected, RegionGrid.Sides(shorter, scales));

    [Fact]
    public void The_grid_covers_the_map_with_overlapping_squares_at_each_scale()
    {
        var regions = RegionGrid.Compute(12, 9, 3);
        Assert.All(regions, r =>
        {
            Assert.True(r.X >= 0 && r.Y >= 0 && r.X + r.Width <= 12 && r.Y + r.Height <= 9, $"{r} is outside the map");
            Assert.Equal(r.Width, r.Height);
        });
        Assert.Equal(regions.Count, regions.Distinct().Count());
        foreach (var side in new[] { 5, 3, 2 })
        {
            var scale = regions.Where(r => r.Width == side).ToList();
            // Every cell is in some region of the scale, and the regions reach both borders.
            for (var y = 0; y < 9; y++)
                for (var x = 0; x < 12; x++)
                    Assert.Contains(scale, r => x >= r.X && x < r.X + side && y >= r.Y && y < r.Y + side);
            Assert.Contains(scale, r => r.X == 0 && r.Y == 0);
            Assert.Contains(scale, r => r.X + side == 12 && r.Y + side == 9);
            // Neighbours overlap by at most R-MAC's 40% and leave no gap.
            var xs = scale.Select(r => r.X).Distinct().Order().ToList();
            Assert.All(xs.Zip(xs.Skip(1)), p => Assert.InRange(p.Second - p.First, 1, side));
        }

        Assert.Equal(4 * 3 + 6 * 5 + 10 * 7, regions.Count);
    }

    [Fact]
    public void A_regions_box_maps_to_the_originals_pixels()
    {
        // A 12 x 9 map of a 4000 x 3000 photo: a cell is 333.3 x 333.3 px.
        Assert.Equal(new RegionBox(0, 0, 1667, 1667), RegionGrid.ToImageBox(new MapRect(0, 0, 5, 5), 12, 9, 4000, 3000));
        Assert.Equal(new RegionBox(3333, 2333, 667, 667), RegionGrid.ToImageBox(new MapRect(10, 7, 2, 2), 12, 9, 4000, 3000));
        // The whole map is the whole image.
        Assert.Equal(new RegionBox(0, 0, 640, 480), RegionGrid.ToImageBox(new MapRect(0, 0, 12, 9), 12, 9, 640, 480));
        // A map larger than a tiny image still gives boxes of at least one pixel inside it.
        var box = RegionGrid.ToImageBox(new MapRect(8, 8, 1, 1), 9, 9, 5, 5);
        Assert.True(box.X + box.Width <= 5 && box.Y + box.Height <= 5 && box.Width >= 1 && box.Height >= 1, $"{box}");
    }

    [Fact]
    public void A_masked_region_pools_its_kept_cells_and_all_of_them_when_none_is_kept()
    {
        var destination = new float[2];
        bool[] keep = [true, false, false, false, false, true];
        // The right 2 x 2: of its cells only 5 is kept.
        FeatureMapPooling.PoolCells(Map, 2, 2, 3, new MapRect(1, 0, 2, 2), keep, PoolingMethod.Average, 1, destination);
        Assert.Equal(5f, destination[0]);
        // The middle column keeps none of its cells: both are pooled.
        FeatureMapPooling.PoolCells(Map, 2, 2, 3, new MapRect(1, 0, 1, 2), keep, PoolingMethod.Average, 1, destination);
        Assert.Equal((1 + 4) / 2f, destination[0]);
        Assert.Equal(2f, destination[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => FeatureMapPooling.PoolCells(Map, 2, 2, 3, new MapRect(2, 0, 2, 2), keep, PoolingMethod.Average, 1, destination));
        Assert.Throws<ArgumentException>(() => FeatureMapPooling.PoolCells(Map, 2, 2, 3, new MapRect(0, 0, 1, 1), new bool[5], PoolingMethod.Average, 1, destination));
    }

    [Fact]
    public void Detail_windows_slide_at_half_their_side_from_border_to_border()
    {
        var windows = DetailRegionGrid.Compute(12, 12, [4], limit: 100);
        int[] starts = [0, 2, 4, 6, 8];
        Assert.Equal([.. from y in starts from x in starts select new MapRect(x, y, 4, 4)], windows);

        // Two sides, in the order given; an odd side slides at half of it, rounded evenly over the span.
        var two = DetailRegionGrid.Compute(10, 7, [4, 5], limit: 100);
        Assert.Equal([.. from y in new[] { 0, 2, 3 } from x in new[] { 0, 2, 4, 6 } select new MapRect(x, y, 4, 4)], two.Take(12));
        Assert.Equal([.. from y in new[] { 0, 2 } from x in new[] { 0, 3, 5 } select new MapRect(x, y, 5, 5)], two.Skip(12));
    }

    [Theory]
    [InlineData(21, 28, 60)] // a 4:3 photo at 672
    [InlineData(42, 21, 60)] // a 2:1 panorama at 672 (its longer side capped at 1,344)
    [InlineData(21, 28, 7)]
    [InlineData(28, 28, 1)]
    public void Detail_windows_stay_within_the_limit_and_the_map_and_still_reach_every_border(int width, int height, int limit)
    {
        var windows = DetailRegionGrid.Compute(width, height, [4, 6], limit);
        Assert.InRange(windows.Count, 1, limit);
        Assert.All(windows, w => Assert.True(w.X >= 0 && w.Y >= 0 && w.X + w.Width <= width && w.Y + w.Height <= height, $"{w} leaves the map"));
        foreach (var side in windows.GroupBy(w => w.Width).Where(g => g.Count() > 1))
        {
            // Each side's windows still run from border to border (the stride grows, the span does not shrink).
            Assert.Equal(0, side.Min(w => w.X));
            Assert.Equal(width, side.Max(w => w.X + w.Width));
            Assert.Equal(0, side.Min(w => w.Y));
            Assert.Equal(height, side.Max(w => w.Y + w.Height));
        }

        if (limit >= 60) Assert.Equal([4, 6], windows.Select(w => w.Width).Distinct());
    }

    [Fact]
    public void Detail_windows_larger_than_the_map_are_clamped_and_counted_once()
    {
        Assert.Equal([new MapRect(0, 0, 5, 5), new MapRect(2, 0, 5, 5), new MapRect(3, 0, 5, 5)], DetailRegionGrid.Compute(8, 5, [6, 5], limit: 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetailRegionGrid.Compute(8, 5, [0], limit: 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetailRegionGrid.Compute(8, 5, [2], limit: 0));
    }
}
